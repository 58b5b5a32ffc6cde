"""Queued deletions of taxes, categories, media and products, each named by its id or its natural key,
of something in the catalog or staged in the import."""

import uuid
from typing import Any

from pydantic import TypeAdapter, ValidationError

from catalog_import.ids import Id
from catalog_import.imports.records import CategoryKey, MediaKey, ProductKey, TaxKey
from catalog_import.imports.stagers.base import (
    RecordOutcome,
    Rejected,
    RootItem,
    StagedRecord,
    Stager,
    Staging,
    validation_problems,
)
from catalog_import.models import Operation, RecordAction
from catalog_import.problems import error
from catalog_import.resolvers.base import not_found
from catalog_import.resolvers.category import path_key

DeleteItem = uuid.UUID | ProductKey | CategoryKey | MediaKey | TaxKey

DELETE_ITEMS: dict[str, tuple[str, TypeAdapter[list[Any]]]] = {
    "products": ("product", TypeAdapter(list[Id | ProductKey])),
    "categories": ("category", TypeAdapter(list[Id | CategoryKey])),
    "media": ("media", TypeAdapter(list[Id | MediaKey])),
    "taxes": ("tax", TypeAdapter(list[Id | TaxKey])),
}
"""What each collection of a delete push holds: its entity, and how one of its items is read."""


class DeleteStager(Stager[DeleteItem]):
    """Deletions of one entity; ``adapter`` reads a one-item list of its delete items (an id, or the
    entity's key object), so that an error's location starts with the item's index."""

    def __init__(self, entity: str, adapter: TypeAdapter[list[Any]]) -> None:
        self.entity = entity
        self.adapter = adapter

    def parse(self, item: RootItem) -> DeleteItem | Rejected:
        try:
            (parsed,) = self.adapter.validate_python([item.raw])
        except ValidationError as exc:
            # The one-item list is at ``<path>.0``: its errors are the item's own.
            return Rejected(
                [
                    error("INVALID_FIELD", p.message, p.path.replace(f"{item.path}.0", item.path, 1))
                    for p in validation_problems(exc, item.path, [item.raw])
                ]
            )
        deleted: DeleteItem = parsed
        return deleted

    def want(self, staging: Staging, record: DeleteItem) -> None:
        entity_id, key = delete_identity(self.entity, record)
        staging.lookups.of(self.entity).want(ids=[entity_id], keys=[key])

    def stage(self, staging: Staging, record: DeleteItem, path: str) -> RecordOutcome:
        outcome = RecordOutcome(self.entity, path)
        entity_id, key = delete_identity(self.entity, record)
        known = staging.lookups.of(self.entity).find(entity_id, key)
        if known is None:
            outcome.problems.append(not_found(self.entity, path, entity_id, key))
            return outcome
        outcome.id, outcome.action = known.id, RecordAction.DELETE
        outcome.staged.append(
            StagedRecord(
                Operation.DELETE, self.entity, known.id, RecordAction.DELETE, known.key, True, path, {}
            )
        )
        return outcome


def delete_identity(entity: str, item: DeleteItem) -> tuple[uuid.UUID | None, str | None]:
    """The id or natural key a delete item names."""
    if isinstance(item, uuid.UUID):
        return item, None
    if item.id is not None:
        return item.id, None
    if isinstance(item, ProductKey):
        return None, item.product_number
    if isinstance(item, CategoryKey):
        assert item.path is not None
        return None, path_key(item.path)
    if isinstance(item, MediaKey):
        return None, item.url
    return None, item.name
