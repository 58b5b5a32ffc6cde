"""The target catalog the commit writes: taxes, currencies, categories, media (in folders), property groups
with their options, and products (variants are products with a parent and options)."""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from catalog_import.models.base import Base, created_at_column, updated_at_column

CATEGORY_PATH_SEPARATOR = "\x1f"
"""Joins category names into a path key; names may not contain control characters."""


class Tax(Base):
    __tablename__ = "taxes"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    tax_rate: Mapped[Decimal] = mapped_column(Numeric(10, 4))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class Currency(Base):
    """ISO 4217 currencies, all seeded by the migrations."""

    __tablename__ = "currencies"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    iso_code: Mapped[str] = mapped_column(String(3), unique=True)
    name: Mapped[str] = mapped_column(String(255))


class Category(Base):
    """A category tree, unique by parent and name; ``path``/``path_key`` are kept for path lookups."""

    __tablename__ = "categories"
    __table_args__ = (
        UniqueConstraint("parent_id", "name", postgresql_nulls_not_distinct=True),
        Index("ix_categories_parent_id", "parent_id"),
        Index("ix_categories_updated_at_id", "updated_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("categories.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    path: Mapped[list[str]] = mapped_column(ARRAY(Text))
    path_key: Mapped[str] = mapped_column(Text, unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class MediaFolder(Base):
    """A folder tree for media, unique by path (``path_key`` joins the names like a category's). Folders
    are created by the media that name them and are never removed by imports."""

    __tablename__ = "media_folders"
    __table_args__ = (Index("ix_media_folders_parent_id", "parent_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("media_folders.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    path: Mapped[list[str]] = mapped_column(ARRAY(Text))
    path_key: Mapped[str] = mapped_column(Text, unique=True)
    created_at: Mapped[datetime] = created_at_column()


class Media(Base):
    __tablename__ = "media"
    __table_args__ = (
        Index("uq_media_source_url", "source_url", unique=True),
        Index("ix_media_folder_id", "folder_id"),
        Index("ix_media_updated_at_id", "updated_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    folder_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("media_folders.id", ondelete="SET NULL"))
    folder: Mapped[MediaFolder | None] = relationship(lazy="joined")
    source_url: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    alt: Mapped[str | None] = mapped_column(Text)
    filename: Mapped[str | None] = mapped_column(String(255))
    mime_type: Mapped[str | None] = mapped_column(String(127))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        Index("ix_products_parent_id", "parent_id"),
        Index("ix_products_tax_id", "tax_id"),
        Index("ix_products_updated_at_id", "updated_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    product_number: Mapped[str] = mapped_column(String(255), unique=True)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    stock: Mapped[int] = mapped_column(Integer, default=0)
    tax_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("taxes.id"))
    custom_fields: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class ProductPrice(Base):
    __tablename__ = "product_prices"
    __table_args__ = (CheckConstraint("gross >= 0 AND net >= 0", name="non_negative"),)

    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    currency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("currencies.id"), primary_key=True)
    gross: Mapped[Decimal] = mapped_column(Numeric(20, 4))
    net: Mapped[Decimal] = mapped_column(Numeric(20, 4))
    linked: Mapped[bool] = mapped_column(Boolean, default=True)


class ProductCategory(Base):
    __tablename__ = "product_categories"
    __table_args__ = (Index("ix_product_categories_category_id", "category_id"),)

    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    category_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True
    )


class ProductMedia(Base):
    __tablename__ = "product_media"
    __table_args__ = (Index("ix_product_media_media_id", "media_id"),)

    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    media_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class PropertyGroup(Base):
    """A property such as "Size" or "Material", unique by name; created when a product first names it."""

    __tablename__ = "property_groups"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)


class PropertyOption(Base):
    """A value of a property group ("S", "Cotton"), unique within its group."""

    __tablename__ = "property_options"
    __table_args__ = (UniqueConstraint("group_id", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("property_groups.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))


class ProductOptionLink:
    """A product's link to a property option (the columns both kinds of link share)."""

    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    option_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("property_options.id", ondelete="CASCADE"), primary_key=True
    )


class ProductProperty(ProductOptionLink, Base):
    """A filterable property assigned to a product."""

    __tablename__ = "product_properties"
    __table_args__ = (Index("ix_product_properties_option_id", "option_id"),)


class ProductOption(ProductOptionLink, Base):
    """An option that sets a variant apart from its siblings (its "Size: S")."""

    __tablename__ = "product_options"
    __table_args__ = (Index("ix_product_options_option_id", "option_id"),)
