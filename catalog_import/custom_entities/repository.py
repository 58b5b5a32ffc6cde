"""SQL of custom entities: declarations, records, and the records linked to products."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import func

from catalog_import.models import CustomEntityRecord, CustomEntityType, ProductCustomEntity


class CustomEntityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def declare(
        self, name: str, fields_schema: dict[str, Any], product_relation: str
    ) -> CustomEntityType:
        """Insert the declaration, or replace the one of that name."""
        statement = (
            insert(CustomEntityType)
            .values(name=name, fields_schema=fields_schema, product_relation=product_relation)
            .on_conflict_do_update(
                index_elements=[CustomEntityType.name],
                set_={
                    "fields_schema": fields_schema,
                    "product_relation": product_relation,
                    "updated_at": func.now(),
                },
            )
            .returning(CustomEntityType)
            .execution_options(populate_existing=True)
        )
        return (await self.session.scalars(statement)).one()

    async def declaration(self, name: str) -> CustomEntityType | None:
        return await self.session.get(CustomEntityType, name)

    async def declarations(self, names: Sequence[str]) -> Sequence[CustomEntityType]:
        return (
            await self.session.scalars(select(CustomEntityType).where(CustomEntityType.name.in_(names)))
        ).all()

    async def record(self, name: str, record_id: uuid.UUID) -> CustomEntityRecord | None:
        return await self.session.scalar(
            select(CustomEntityRecord).where(
                CustomEntityRecord.id == record_id, CustomEntityRecord.type_name == name
            )
        )

    async def linked_products(self, record_id: uuid.UUID) -> list[uuid.UUID]:
        return list(
            (
                await self.session.scalars(
                    select(ProductCustomEntity.product_id)
                    .where(ProductCustomEntity.record_id == record_id)
                    .order_by(ProductCustomEntity.product_id)
                )
            ).all()
        )

    async def product_records(
        self, product_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[tuple[str, uuid.UUID, dict[str, Any]]]]:
        """The records linked to each product: (entity name, record id, data), by name and record id."""
        rows = await self.session.execute(
            select(
                ProductCustomEntity.product_id,
                CustomEntityRecord.type_name,
                CustomEntityRecord.id,
                CustomEntityRecord.data,
            )
            .join(CustomEntityRecord, CustomEntityRecord.id == ProductCustomEntity.record_id)
            .where(ProductCustomEntity.product_id.in_(product_ids))
            .order_by(ProductCustomEntity.product_id, CustomEntityRecord.type_name, CustomEntityRecord.id)
        )
        found: dict[uuid.UUID, list[tuple[str, uuid.UUID, dict[str, Any]]]] = {}
        for product_id, name, record_id, data in rows:
            found.setdefault(product_id, []).append((name, record_id, data))
        return found
