"""The variants a product already has, by their option combination, so that generating its variants again
updates them instead of creating new ones."""

import uuid
from dataclasses import dataclass

from sqlalchemy import ARRAY, bindparam, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_import.resolvers.product import ProductLookup

VARIANTS = """
SELECT p.parent_id, p.id, p.product_number,
       coalesce(array_agg(g.name || chr(31) || o.name) FILTER (WHERE o.id IS NOT NULL), '{}')
FROM products p
LEFT JOIN product_options po ON po.product_id = p.id
LEFT JOIN property_options o ON o.id = po.option_id
LEFT JOIN property_groups g ON g.id = o.group_id
WHERE p.parent_id = ANY(:parent_ids)
GROUP BY p.id
"""


@dataclass(frozen=True, slots=True)
class ExistingVariant:
    id: uuid.UUID
    product_number: str


Combination = frozenset[str]
"""The ``group␟option`` keys of a variant's options."""


class VariantLookup:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._wanted: list[tuple[uuid.UUID | None, str | None]] = []
        self._by_parent: dict[uuid.UUID, dict[Combination, ExistingVariant]] = {}

    def want(self, parent_id: uuid.UUID | None, parent_number: str | None) -> None:
        self._wanted.append((parent_id, parent_number))

    async def load(self, products: ProductLookup) -> None:
        """Load the variants of the wanted parents that exist in the catalog (after ``products`` loaded)."""
        parent_ids = set()
        for parent_id, number in self._wanted:
            known = products.find(parent_id, number if parent_id is None else None)
            if known is not None and known.id not in self._by_parent:
                parent_ids.add(known.id)
        self._wanted.clear()
        if not parent_ids:
            return
        for parent_id in parent_ids:
            self._by_parent[parent_id] = {}
        statement = text(VARIANTS).bindparams(bindparam("parent_ids", type_=ARRAY(UUID(as_uuid=True))))
        result = await self.session.execute(statement, {"parent_ids": list(parent_ids)})
        for parent_id, variant_id, number, options in result:
            self._by_parent[parent_id][frozenset(options)] = ExistingVariant(variant_id, number)

    def remember(self, parent_id: uuid.UUID, variants: dict[Combination, ExistingVariant]) -> None:
        """Know a product's variants in the catalog (as ``load`` finds them)."""
        self._by_parent[parent_id] = variants

    def of(self, parent_id: uuid.UUID) -> dict[Combination, ExistingVariant]:
        return self._by_parent.get(parent_id, {})
