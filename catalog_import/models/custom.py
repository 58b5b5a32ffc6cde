"""Custom entities: declared types (a JSON Schema of their fields and how they relate to products), their
records, and the links of records to products."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from catalog_import.models.base import Base, created_at_column, updated_at_column


class CustomEntityType(Base):
    """A declared custom entity, shared by every integration (the catalog is one)."""

    __tablename__ = "custom_entity_types"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    fields_schema: Mapped[dict[str, Any]] = mapped_column(JSONB)
    product_relation: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class CustomEntityRecord(Base):
    __tablename__ = "custom_entity_records"
    __table_args__ = (Index("ix_custom_entity_records_type_name", "type_name"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    type_name: Mapped[str] = mapped_column(
        ForeignKey("custom_entity_types.name", ondelete="CASCADE", onupdate="CASCADE")
    )
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class ProductCustomEntity(Base):
    """A product linked to a custom entity record."""

    __tablename__ = "product_custom_entities"
    __table_args__ = (Index("ix_product_custom_entities_record_id", "record_id"),)

    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    record_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("custom_entity_records.id", ondelete="CASCADE"), primary_key=True
    )
