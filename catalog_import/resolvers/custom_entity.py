"""Custom entity records by id (their natural key is the name of their entity, so that a record named by id
is known to be of the right entity), and the declarations of the entities a push names."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_import.models import CustomEntityRecord, CustomEntityType
from catalog_import.resolvers.base import Lookup


class CustomEntityLookup(Lookup):
    entity = "custom_entity"

    catalog_key = CustomEntityRecord.__table__.c.type_name
    found_by_key = False


@dataclass(frozen=True, slots=True)
class Declared:
    name: str
    fields_schema: dict[str, Any]
    product_relation: str


class DeclarationLookup:
    """The declarations of the custom entities named in a push, loaded once."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._wanted: set[str] = set()
        self._declared: dict[str, Declared] = {}

    def want(self, names: Iterable[str]) -> None:
        self._wanted.update(names)

    async def load(self) -> None:
        names = sorted(self._wanted - self._declared.keys())
        self._wanted.clear()
        if not names:
            return
        found = await self.session.scalars(select(CustomEntityType).where(CustomEntityType.name.in_(names)))
        for declared in found:
            self.remember(Declared(declared.name, declared.fields_schema, declared.product_relation))

    def remember(self, declared: Declared) -> None:
        self._declared[declared.name] = declared

    def get(self, name: str) -> Declared | None:
        return self._declared.get(name)
