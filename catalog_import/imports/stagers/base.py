"""What every stager shares: the staged record and the outcome of a root record, the stager's interface
(read an item of the body, say what it needs looked up, stage it), and the steps common to all entities:
deciding a record's identity (create or update), resolving a reference, staging a nested creation, and
undoing what a rejected record staged so that the records after it do not see it."""

import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from catalog_import.ids import new_id
from catalog_import.models import Operation, RecordAction
from catalog_import.models.payloads import Payload, ReferenceField
from catalog_import.problems import Problem, error, warning
from catalog_import.resolvers.base import ENTITY_LABELS, Known, Lookup, Reference, describe, not_found
from catalog_import.resolvers.lookups import Lookups


@dataclass(slots=True)
class StagedRecord:
    operation: Operation
    entity: str
    entity_id: uuid.UUID
    action: RecordAction
    natural_key: str | None
    root: bool
    path: str
    payload: Payload
    refs: list[Reference] = field(default_factory=list)
    # The item of the body this record was staged from, as JSON text, on the item's own record; the id of
    # that record on the other root records staged from the item (variants). None for nested records.
    pushed: str | None = None
    item_id: uuid.UUID | None = None


@dataclass(slots=True)
class RecordOutcome:
    """What became of one root record of a push."""

    entity: str
    path: str
    id: uuid.UUID | None = None
    action: RecordAction | None = None
    problems: list[Problem] = field(default_factory=list)
    staged: list[StagedRecord] = field(default_factory=list)

    @property
    def rejected(self) -> bool:
        return any(problem.is_error for problem in self.problems)


@dataclass(slots=True)
class Identity:
    id: uuid.UUID
    action: RecordAction
    existing: Known | None

    def key_or_existing(self, key: str | None) -> str | None:
        """The record's natural key: the one it was pushed with, else that of the record it updates."""
        if key:
            return key
        return self.existing.key if self.existing is not None else None


@dataclass(frozen=True, slots=True)
class RootItem:
    """One root record of a body as it was pushed, before it is read: where it is, what it is of, what its
    stager reads (``raw``) and the JSON value the body held (``pushed``, kept with the staged record)."""

    entity: str
    path: str
    raw: Any
    pushed: Any


@dataclass(frozen=True, slots=True)
class Rejected:
    """An item that cannot be read as a record of its kind."""

    problems: list[Problem]


class Staging:
    """The lookups of one push and what the stagers do with them: the steps every entity shares."""

    def __init__(self, lookups: Lookups, *, defer_references: bool) -> None:
        self.lookups = lookups
        self.defer_references = defer_references

    def begin(self, entity: str, path: str) -> RecordOutcome:
        """Start a root record: what it stages from here is undone if it is rejected (``finish``)."""
        self.lookups.begin()
        return RecordOutcome(entity, path)

    def finish(self, outcome: RecordOutcome) -> RecordOutcome:
        if outcome.rejected:
            self.lookups.rollback()
            outcome.staged.clear()
            outcome.id = None
            outcome.action = None
        else:
            self.lookups.commit()
        return outcome

    def identify(
        self,
        outcome: RecordOutcome,
        lookup: Lookup,
        given_id: uuid.UUID | None,
        key: str | None,
        key_field: str,
        missing_for_create: Callable[[], Sequence[str]],
        duplicate_code: str,
    ) -> Identity | None:
        """The record's id and whether it is a create or an update: by the id given (which must agree with
        the natural key, when both name something), else by its natural key. A create needs the fields
        ``missing_for_create`` does not name. None, with the problem, when neither holds."""
        entity, path = outcome.entity, outcome.path
        by_key = lookup.by_key(key) if key is not None else None
        if given_id is not None:
            existing = lookup.by_id(given_id)
            if by_key is not None and by_key.id != given_id:
                outcome.problems.append(
                    error(
                        duplicate_code,
                        f"{ENTITY_LABELS[entity]} {describe(entity, None, key)} already exists "
                        f"with ID {by_key.id.hex}",
                        f"{path}.{key_field}",
                    )
                )
                return None
        elif key is not None:
            existing = by_key
        else:
            outcome.problems.append(
                error("INVALID_FIELD", f"A {entity} record needs an id or a {key_field}", path)
            )
            return None
        if existing is None or (existing.staged and existing.creating):
            action = RecordAction.CREATE
        else:
            action = RecordAction.UPDATE
        if action is RecordAction.CREATE:
            missing = missing_for_create()
            if missing:
                if existing is None and given_id is not None:
                    outcome.problems.append(
                        error(f"{entity.upper()}_NOT_FOUND", f"ID {given_id.hex} not found", path)
                    )
                else:
                    for name in missing:
                        outcome.problems.append(
                            error(
                                "INVALID_FIELD", f"{name} is required to create a {entity}", f"{path}.{name}"
                            )
                        )
                return None
        return Identity(existing.id if existing else (given_id or new_id()), action, existing)

    def reference(
        self,
        outcome: RecordOutcome,
        record: StagedRecord,
        lookup: Lookup,
        *,
        ref_id: uuid.UUID | None,
        key: str | None,
        path: str,
        field_name: ReferenceField,
        many: bool,
    ) -> uuid.UUID | None:
        """Resolve one reference. Returns the id, or None when it is pending (``deferReferences``: kept on
        the record to resolve again at commit, with a warning) or not found (an error)."""
        entity = lookup.entity
        known = lookup.find(ref_id, key)
        if known is not None:
            if known.creating:
                record.refs.append(Reference(entity, path, id=known.id))
            return known.id
        if self.defer_references and lookup.stageable:
            record.refs.append(Reference(entity, path, id=ref_id, key=key, field=field_name, many=many))
            what = describe(entity, ref_id, key)
            outcome.problems.append(
                warning(
                    "REFERENCE_PENDING",
                    f"{ENTITY_LABELS[entity]} {what} not found yet; it is resolved again at commit",
                    path,
                )
            )
            return None
        outcome.problems.append(not_found(entity, path, ref_id, key))
        return None

    def references(
        self,
        outcome: RecordOutcome,
        record: StagedRecord,
        lookup: Lookup,
        refs: Iterable[tuple[uuid.UUID | None, str | None]],
        path: str,
        field_name: ReferenceField,
    ) -> list[str]:
        """Resolve a list of references (``(id, key)`` each, at ``path.<index>``): the ids found, without
        repeats, in list order."""
        ids: dict[str, None] = {}
        for index, (ref_id, key) in enumerate(refs):
            resolved = self.reference(
                outcome,
                record,
                lookup,
                ref_id=ref_id,
                key=key,
                path=f"{path}.{index}",
                field_name=field_name,
                many=True,
            )
            if resolved is not None:
                ids.setdefault(resolved.hex)
        return list(ids)

    def root(
        self, outcome: RecordOutcome, identity: Identity, key: str | None, payload: Payload
    ) -> StagedRecord:
        """The root record of an outcome, staged by ``settle`` once its references are resolved."""
        return StagedRecord(
            Operation.UPSERT, outcome.entity, identity.id, identity.action, key, True, outcome.path, payload
        )

    def settle(self, outcome: RecordOutcome, lookup: Lookup, root: StagedRecord) -> None:
        """Stage the root record of an accepted outcome, before the nested records staged on its way: the
        outcome takes its id and action."""
        outcome.id, outcome.action = root.entity_id, root.action
        self.stage(outcome, lookup, root)
        outcome.staged.insert(0, outcome.staged.pop())

    def stage(self, outcome: RecordOutcome, lookup: Lookup, record: StagedRecord) -> None:
        """Stage a record of the outcome; later records of the push see it in ``lookup``."""
        self.lookups.stage(
            lookup,
            Known(record.entity_id, record.natural_key, creating=record.action is RecordAction.CREATE),
        )
        outcome.staged.append(record)

    def nest(
        self, outcome: RecordOutcome, lookup: Lookup, parent: StagedRecord, nested: StagedRecord
    ) -> None:
        """Stage a nested creation (a tax with a rate, a media by URL, a custom record): a record of its own,
        written before the record it is nested in."""
        self.stage(outcome, lookup, nested)
        parent.refs.append(Reference(nested.entity, nested.path, id=nested.entity_id, nested=True))


R = TypeVar("R")
M = TypeVar("M", bound=BaseModel)


class Stager(Generic[R]):
    """Stages the root records of one collection of a push. A stager holds no state of its own: what one
    push knows is in the ``Staging`` it is handed."""

    entity: str

    def items(self, collection: str, value: Any) -> Iterator[RootItem]:
        """The root records of the collection, in body order."""
        for index, pushed in enumerate(value):
            yield self.item(f"{collection}.{index}", pushed)

    def item(self, path: str, pushed: Any) -> RootItem:
        """The root record at ``path`` of a body, as it was pushed."""
        return RootItem(self.entity, path, pushed, pushed)

    def parse(self, item: RootItem) -> R | Rejected:
        raise NotImplementedError

    def want(self, staging: Staging, record: R) -> None:
        """Collect what the record may ask the lookups for, before they load."""
        raise NotImplementedError

    def stage(self, staging: Staging, record: R, path: str) -> RecordOutcome:
        raise NotImplementedError


class ModelStager(Stager[M]):
    """A stager whose records are read by a pydantic model."""

    model: type[M]

    def parse(self, item: RootItem) -> M | Rejected:
        try:
            return self.model.model_validate(item.raw)
        except ValidationError as exc:
            return Rejected(validation_problems(exc, item.path, item.raw))


def body_location(loc: tuple[int | str, ...], data: Any, *, missing: bool) -> list[str]:
    """The parts of a validation error's location that are keys or indexes of the body. Pydantic also
    names the members of a union and validator functions in a location (``currency.constrained-str``);
    those are not paths of the body and are left out."""
    parts: list[str] = []
    value = data
    for position, part in enumerate(loc):
        in_object = isinstance(value, dict) and isinstance(part, str) and part in value
        in_list = isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value)
        if in_object or in_list:
            value = value[part]
        elif not (missing and position == len(loc) - 1 and isinstance(value, dict)):
            continue
        parts.append(str(part))
    return parts


def validation_problems(exc: ValidationError, path: str, data: Any) -> list[Problem]:
    """One ``INVALID_FIELD`` per validation error of ``data`` (the part of the body at ``path``)."""
    problems: dict[Problem, None] = {}  # ordered and without repeats
    located = [
        (".".join(body_location(err["loc"], data, missing=err["type"] == "missing")), err)
        for err in exc.errors()
    ]
    # A field that may be absent but never null fails as its own type and as None: the first says why.
    other_errors = {location for location, err in located if err["type"] != "none_required"}
    for location, err in located:
        if err["type"] == "none_required" and location in other_errors:
            continue
        problems.setdefault(error("INVALID_FIELD", err["msg"], f"{path}.{location}" if location else path))
    return list(problems)
