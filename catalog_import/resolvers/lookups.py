"""All the lookups one push (or one commit preparation) needs, loaded together."""

import uuid
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_import.resolvers.base import Known, Lookup
from catalog_import.resolvers.category import CategoryLookup
from catalog_import.resolvers.currency import CurrencyLookup
from catalog_import.resolvers.custom_entity import CustomEntityLookup, DeclarationLookup
from catalog_import.resolvers.folder import FolderLookup
from catalog_import.resolvers.media import MediaLookup
from catalog_import.resolvers.product import ProductLookup
from catalog_import.resolvers.tax import TaxLookup
from catalog_import.resolvers.variants import VariantLookup


@dataclass(slots=True)
class UndoLog:
    """Staging steps of one record, undone when the record turns out to be rejected."""

    steps: list[tuple[Lookup, uuid.UUID, Known | None, str | None, Known | None]] = field(
        default_factory=list
    )


class Lookups:
    def __init__(self, session: AsyncSession, import_id: uuid.UUID) -> None:
        self.session = session
        self.tax = TaxLookup(import_id)
        self.currency = CurrencyLookup(import_id)
        self.category = CategoryLookup(import_id)
        self.media = MediaLookup(import_id)
        self.folder = FolderLookup(import_id)
        self.product = ProductLookup(import_id)
        self.variants = VariantLookup(session)
        self.custom_entity = CustomEntityLookup(import_id)
        self.declarations = DeclarationLookup(session)
        self._undo: UndoLog | None = None

    def all(self) -> tuple[Lookup, ...]:
        return (
            self.tax, self.currency, self.category, self.media, self.folder, self.product, self.custom_entity,
        )  # fmt: skip

    async def load(self) -> None:
        """Load what the lookups want: one statement for the catalog and the staged records of every kind,
        then the variants of the products found, and the declarations of custom entities named."""
        queries: list[str] = []
        params: dict[str, Any] = {}
        for lookup in self.all():
            wanted = lookup.take_wanted()
            if wanted is not None:
                of_kind, params_of_kind = lookup.load_queries(*wanted)
                queries.extend(of_kind)
                params.update(params_of_kind)
        if queries:
            rows = (await self.session.execute(text(" UNION ALL ".join(queries)), params)).all()
            by_entity = {lookup.entity: lookup for lookup in self.all()}
            # The catalog's rows first: the staged ones overlay them.
            for entity, source, entity_id, key, action in sorted(rows, key=itemgetter(1)):
                by_entity[entity].loaded(source, entity_id, key, action)
        await self.variants.load(self.product)
        await self.declarations.load()

    def of(self, entity: str) -> Lookup:
        for lookup in self.all():
            if lookup.entity == entity:
                return lookup
        raise KeyError(entity)

    # -- staging with undo, so a rejected record leaves the lookups as they were ----------------------
    def begin(self) -> None:
        self._undo = UndoLog()

    def stage(self, lookup: Lookup, known: Known) -> None:
        if self._undo is not None:
            previous_key = lookup.by_id(known.id)
            self._undo.steps.append(
                (
                    lookup,
                    known.id,
                    previous_key,
                    known.key,
                    lookup.by_key(known.key) if known.key is not None else None,
                )
            )
        lookup.stage(known)

    def rollback(self) -> None:
        if self._undo is None:
            return
        for lookup, entity_id, previous, key, previous_by_key in reversed(self._undo.steps):
            lookup.restore(entity_id, previous, key, previous_by_key)
        self._undo = None

    def commit(self) -> None:
        self._undo = None
