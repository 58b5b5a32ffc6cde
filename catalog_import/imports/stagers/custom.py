"""Records of custom entities (``extensions.<name>``): created or updated as root records of their own or
nested in a product, checked against the entity's declared field schema, and deleted by id."""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from catalog_import.ids import new_id, parse_id
from catalog_import.imports.stagers.base import (
    RecordOutcome,
    Rejected,
    RootItem,
    StagedRecord,
    Stager,
    Staging,
)
from catalog_import.json_checks import plain_json, schema_problems
from catalog_import.models import Operation, RecordAction
from catalog_import.models.catalog import CATEGORY_PATH_SEPARATOR
from catalog_import.models.payloads import CustomRecordPayload
from catalog_import.problems import error
from catalog_import.resolvers.base import Reference, not_found

ENTITY = "custom_entity"


@dataclass(frozen=True, slots=True)
class CustomItem:
    """An item of ``extensions.<name>`` as it was pushed: it is read against its entity's declaration,
    which is looked up with the rest of the push."""

    name: str
    raw: Any


class CustomStager(Stager[CustomItem]):
    """Custom entity items are grouped by entity name: ``extensions.<name>.<index>``."""

    entity = ENTITY

    def items(self, collection: str, value: Any) -> Iterator[RootItem]:
        for name, records in value.items():
            for index, pushed in enumerate(records):
                yield self.item(f"{collection}.{name}.{index}", pushed)

    def item(self, path: str, pushed: Any) -> RootItem:
        """At ``extensions.<name>.<index>``: a record of the custom entity ``name``."""
        name = path.split(".")[1]
        return RootItem(name, path, CustomItem(name, pushed), pushed)

    def parse(self, item: RootItem) -> CustomItem | Rejected:
        custom: CustomItem = item.raw
        return custom

    def want(self, staging: Staging, record: CustomItem) -> None:
        want_custom(staging, record.name, record.raw)


class CustomRecordStager(CustomStager):
    def stage(self, staging: Staging, record: CustomItem, path: str) -> RecordOutcome:
        """With the id of a record that exists, an update of the fields it carries (each replaces the field
        it names); otherwise a create, with the given id or a new one."""
        outcome = staging.begin(record.name, path)
        found = custom_record(staging, outcome, record.name, record.raw, path, root=True)
        if found is not None and found[1] is not None:
            staged = found[1]
            outcome.id, outcome.action = staged.entity_id, staged.action
            staging.stage(outcome, staging.lookups.custom_entity, staged)
        return staging.finish(outcome)


class CustomDeleteStager(CustomStager):
    def stage(self, staging: Staging, record: CustomItem, path: str) -> RecordOutcome:
        """A queued deletion of a record, named by its id (``"…"`` or ``{"id"}``)."""
        name = record.name
        outcome = RecordOutcome(name, path)
        if staging.lookups.declarations.get(name) is None:
            message = f"Custom entity {name!r} is not declared"
            outcome.problems.append(error("CUSTOM_ENTITY_UNKNOWN", message, path))
            return outcome
        record_id = custom_record_id(record.raw)
        if record_id is None:
            message = 'A custom entity record to delete is named by its id ("…" or {"id": "…"})'
            outcome.problems.append(error("INVALID_FIELD", message, path))
            return outcome
        known = staging.lookups.custom_entity.by_id(record_id)
        if known is None or known.key != name:
            outcome.problems.append(not_found(ENTITY, path, record_id))
            return outcome
        outcome.id, outcome.action = known.id, RecordAction.DELETE
        outcome.staged.append(
            StagedRecord(Operation.DELETE, ENTITY, known.id, RecordAction.DELETE, name, True, path, {})
        )
        return outcome


def want_custom(staging: Staging, name: str, raw: Any) -> None:
    staging.lookups.declarations.want([name])
    staging.lookups.custom_entity.want_id(custom_record_id(raw))


def custom_record_id(item: Any) -> uuid.UUID | None:
    """The id a custom entity item names (a string, or an object's ``id``), when it is a valid one."""
    given = item.get("id") if isinstance(item, dict) else item
    try:
        return parse_id(given) if isinstance(given, str) else None
    except ValueError:
        return None


def custom_record(
    staging: Staging,
    outcome: RecordOutcome,
    name: str,
    raw: Any,
    path: str,
    *,
    root: bool,
    default_id: uuid.UUID | None = None,
) -> tuple[uuid.UUID, StagedRecord | None] | None:
    """The record to stage for one custom entity item, with its id (``default_id`` when it names none);
    nested ``{"id"}`` alone names a record to link and stages nothing. None when the item has a problem."""
    declared = staging.lookups.declarations.get(name)
    if declared is None:
        message = f"Custom entity {name!r} is not declared"
        outcome.problems.append(error("CUSTOM_ENTITY_UNKNOWN", message, path))
        return None
    if not isinstance(raw, dict):
        outcome.problems.append(error("INVALID_FIELD", "A custom entity record must be an object", path))
        return None
    data = dict(raw)
    given = data.pop("id", None)
    try:
        record_id = parse_id(given) if given is not None else None
    except ValueError as exc:
        outcome.problems.append(error("INVALID_FIELD", str(exc), f"{path}.id"))
        return None
    try:
        plain_json(data)
    except ValueError as exc:
        outcome.problems.append(error("INVALID_FIELD", str(exc), path))
        return None
    known = staging.lookups.custom_entity.by_id(record_id) if record_id is not None else None
    record_id = record_id or default_id
    if known is not None and known.key != name:
        message = f"ID {known.id.hex} is a record of custom entity {known.key!r}"
        outcome.problems.append(error("INVALID_FIELD", message, f"{path}.id"))
        return None
    if not root and not data and record_id is not None:
        # A nested {"id"} names a record to link: one in the catalog or staged in the import.
        if known is None:
            outcome.problems.append(not_found(ENTITY, path, record_id))
            return None
        return known.id, None
    creating = known is None or (known.staged and known.creating)
    problems = [
        error("INVALID_FIELD", message, f"{path}.{where}" if where else path)
        for where, message in schema_problems(declared.fields_schema, data, partial=not creating)
    ]
    if problems:
        outcome.problems.extend(problems)
        return None
    action = RecordAction.CREATE if creating else RecordAction.UPDATE
    payload: CustomRecordPayload = {"type": name, "data": data}
    staged = StagedRecord(Operation.UPSERT, ENTITY, record_id or new_id(), action, name, root, path, payload)
    return staged.entity_id, staged


def want_extensions(staging: Staging, extensions: dict[str, Any] | None) -> None:
    """What the custom records nested in a product may ask the lookups for."""
    for name, value in (extensions or {}).items():
        for item in value if isinstance(value, list) else [value]:
            want_custom(staging, name, item)


def product_extensions(
    staging: Staging, outcome: RecordOutcome, staged: StagedRecord, extensions: dict[str, Any], path: str
) -> list[str]:
    """Stage the custom entity records nested in a product (written before it) and return the ids of the
    records to link it to."""
    lookup = staging.lookups.custom_entity
    record_ids: dict[str, None] = {}
    for name, value in extensions.items():
        extension_path = f"{path}.extensions.{name}"
        declared = staging.lookups.declarations.get(name)
        if declared is not None and declared.product_relation == "none":
            message = f"Custom entity {name!r} is not related to products"
            outcome.problems.append(error("INVALID_FIELD", message, extension_path))
            continue
        items = value if isinstance(value, list) else [value]
        if declared is not None and declared.product_relation == "one" and len(items) > 1:
            message = f"A product has at most one {name!r} record"
            outcome.problems.append(error("INVALID_FIELD", message, extension_path))
            continue
        for index, item in enumerate(items):
            item_path = f"{extension_path}.{index}" if isinstance(value, list) else extension_path
            # Without an id, a nested record's id follows from its product, entity and position, so that
            # pushing the product again (a retry, or a later import) writes the same record.
            default_id = uuid.uuid5(staged.entity_id, f"{name}{CATEGORY_PATH_SEPARATOR}{index}")
            found = custom_record(staging, outcome, name, item, item_path, root=False, default_id=default_id)
            if found is None:
                continue
            record_id, nested = found
            if nested is not None and nested.action is RecordAction.CREATE:
                staging.nest(outcome, lookup, staged, nested)
            elif nested is not None:
                staging.stage(outcome, lookup, nested)
            else:
                known = lookup.by_id(record_id)
                if known is not None and known.creating:
                    staged.refs.append(Reference(ENTITY, item_path, id=record_id))
            record_ids.setdefault(record_id.hex)
    return list(record_ids)
