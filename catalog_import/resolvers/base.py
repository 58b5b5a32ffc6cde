"""What every resolver shares: a lookup of one entity kind by id and by natural key, loaded in bulk for
a whole push (its queries against the catalog and the import's staged records run in one statement with
those of the other kinds), then kept up to date with the records the push stages, so later records of the
same body see earlier ones."""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import ColumnElement

from catalog_import.models import Operation, RecordAction
from catalog_import.models.catalog import CATEGORY_PATH_SEPARATOR
from catalog_import.models.payloads import ReferenceField
from catalog_import.problems import Problem, error

ENTITY_LABELS = {
    "tax": "Tax",
    "category": "Category",
    "media": "Media",
    "folder": "Folder",
    "product": "Product",
    "custom_entity": "Custom entity record",
}

# Where a row of a lookup's load comes from.
CATALOG = 0
STAGED = 1


@dataclass(slots=True)
class Known:
    """An entity a reference can point to."""

    id: uuid.UUID
    key: str | None
    # Staged as a create in this import: whatever references it must be written after it.
    creating: bool = False
    staged: bool = False


@dataclass(slots=True)
class Reference:
    """A reference of a record to another entity, kept on the staged record.

    A resolved reference to an entity created in the same import becomes a dependency at commit; an
    unresolved one (``deferReferences``) carries the key or id to resolve again at commit, and the payload
    field its id goes to."""

    entity: str
    path: str
    id: uuid.UUID | None = None
    key: str | None = None
    nested: bool = False
    field: ReferenceField | None = None
    many: bool = False

    @property
    def pending(self) -> bool:
        return self.field is not None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"entity": self.entity, "path": self.path, "nested": self.nested}
        if self.id is not None:
            data["id"] = self.id.hex
        if self.key is not None:
            data["key"] = self.key
        if self.field is not None:
            data["field"] = self.field
            data["many"] = self.many
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Reference":
        return cls(
            entity=data["entity"],
            path=data["path"],
            id=uuid.UUID(data["id"]) if data.get("id") else None,
            key=data.get("key"),
            nested=data.get("nested", False),
            field=data.get("field"),
            many=data.get("many", False),
        )


def describe(entity: str, entity_id: uuid.UUID | None, key: str | None) -> str:
    """How a message names what a reference points to: ``ID …``, or its natural key (a category's path
    written with slashes)."""
    if entity_id is not None:
        return f"ID {entity_id.hex}"
    return (key or "").replace(CATEGORY_PATH_SEPARATOR, "/")


def not_found(entity: str, path: str, entity_id: uuid.UUID | None = None, key: str | None = None) -> Problem:
    """``<ENTITY>_NOT_FOUND`` for a reference that names nothing in the catalog or the import."""
    return error(
        f"{entity.upper()}_NOT_FOUND",
        f"{ENTITY_LABELS[entity]} {describe(entity, entity_id, key)} not found",
        path,
    )


class Lookup:
    """Entities of one kind by id and natural key: the catalog, overlaid by what the import staged."""

    entity: ClassVar[str]
    # Whether imports can stage records of this kind (currencies cannot).
    stageable: ClassVar[bool] = True

    def __init__(self, import_id: uuid.UUID) -> None:
        self.import_id = import_id
        self._by_id: dict[uuid.UUID, Known] = {}
        self._by_key: dict[str, Known] = {}
        self._wanted_ids: set[uuid.UUID] = set()
        self._wanted_keys: set[str] = set()

    # The catalog column of this kind's natural key (its table's ``id`` is the id), and whether entities
    # of this kind are looked up in the catalog by that key too or only by id.
    catalog_key: ClassVar[ColumnElement[Any]]
    found_by_key: ClassVar[bool] = True

    def want(self, *, ids: Iterable[uuid.UUID | None] = (), keys: Iterable[str | None] = ()) -> None:
        """Collect what the records of a push may ask for, before ``load``."""
        for entity_id in ids:
            self.want_id(entity_id)
        for key in keys:
            self.want_key(key)

    def want_id(self, entity_id: uuid.UUID | None) -> None:
        if entity_id is not None:
            self._wanted_ids.add(entity_id)

    def want_key(self, key: str | None) -> None:
        if key is not None:
            self._wanted_keys.add(key)

    def take_wanted(self) -> tuple[list[uuid.UUID], list[str]] | None:
        """The ids and keys wanted that are not known yet, in order (None when there are none); the wanted
        are cleared."""
        ids = sorted(self._wanted_ids - self._by_id.keys())
        keys = sorted(self._wanted_keys - self._by_key.keys())
        self._wanted_ids.clear()
        self._wanted_keys.clear()
        return (ids, keys) if ids or keys else None

    def load_queries(self, ids: list[uuid.UUID], keys: list[str]) -> tuple[list[str], dict[str, Any]]:
        """The queries that find ``ids`` and ``keys`` in the catalog and among the import's staged records,
        and their parameters: rows of (entity, source, id, natural key, staged action), so that the queries
        of all kinds run as one statement (``Lookups.load``). SQL text rather than SQLAlchemy constructs:
        a push builds them every time, and building the constructs cost more than running them."""
        entity = self.entity
        # Only names of this code go into the text (the kind, its table and column); values are parameters.
        table, key = self.catalog_key.table.name, self.catalog_key.name
        params: dict[str, Any] = {f"{entity}_ids": ids, f"{entity}_keys": keys}
        found_by = f"id = ANY(CAST(:{entity}_ids AS uuid[]))"
        if self.found_by_key:
            found_by += f" OR {key} = ANY(CAST(:{entity}_keys AS text[]))"
        catalog = f"SELECT '{entity}'::text, {CATALOG}, id, {key}::text, NULL::text FROM {table}"  # noqa: S608
        queries = [f"{catalog} WHERE {found_by}"]
        if self.stageable:
            params["import_id"] = self.import_id
            of_this_kind = (
                f"SELECT '{entity}'::text, {STAGED}, entity_id, natural_key, action::text"  # noqa: S608
                " FROM import_records WHERE import_id = :import_id"
                f" AND operation = '{Operation.UPSERT.value}' AND entity = '{entity}'"
            )
            # Two queries rather than one OR, so that each is an index condition (an OR is a filter that
            # compares every staged record of the import with every key).
            if keys:
                queries.append(f"{of_this_kind} AND natural_key = ANY(CAST(:{entity}_keys AS text[]))")
            if ids:
                queries.append(f"{of_this_kind} AND entity_id = ANY(CAST(:{entity}_ids AS uuid[]))")
        return queries, params

    def loaded(self, source: int, entity_id: uuid.UUID, key: str | None, action: str | None) -> None:
        """Take a row of ``load_queries``: staged records win over the catalog, so they come after it."""
        if source == CATALOG:
            self.remember(Known(entity_id, key))
        else:
            self.stage(Known(entity_id, key, creating=action == RecordAction.CREATE, staged=True))

    def remember(self, known: Known) -> None:
        """Know an entity of the catalog (as ``load`` finds them)."""
        self._by_id[known.id] = known
        if known.key is not None:
            self._by_key[known.key] = known

    def stage(self, known: Known) -> None:
        """Record what the import stages; staged records win over the catalog."""
        known.staged = True
        previous = self._by_id.get(known.id)
        if previous is not None and previous.key is not None and self._by_key.get(previous.key) is previous:
            del self._by_key[previous.key]
        self.remember(known)

    def restore(
        self, entity_id: uuid.UUID, previous: Known | None, key: str | None, previous_by_key: Known | None
    ) -> None:
        """Put back what ``stage`` replaced (used to undo the staging of a rejected record)."""
        current = self._by_id.pop(entity_id, None)
        if current is not None and current.key is not None and self._by_key.get(current.key) is current:
            del self._by_key[current.key]
        if previous is not None:
            self.remember(previous)
        if key is not None and previous_by_key is not None:
            self._by_key[key] = previous_by_key

    def by_id(self, entity_id: uuid.UUID) -> Known | None:
        return self._by_id.get(entity_id)

    def by_key(self, key: str) -> Known | None:
        return self._by_key.get(key)

    def find(self, entity_id: uuid.UUID | None, key: str | None) -> Known | None:
        if entity_id is not None:
            return self.by_id(entity_id)
        if key is not None:
            return self.by_key(key)
        return None
