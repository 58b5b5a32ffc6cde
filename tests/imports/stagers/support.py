"""Stagers without a database: lookups that know what a test tells them, and stagers run as a push runs
them (read the item, collect what it needs, stage it)."""

import uuid
from typing import Any

from catalog_import.imports.stagers import STAGERS, RecordOutcome, Rejected, StagedRecord, Staging
from catalog_import.models import Operation
from catalog_import.resolvers.base import Known
from catalog_import.resolvers.lookups import Lookups

EUR = Known(uuid.UUID(int=1), "EUR")


def staging(*, defer_references: bool = False) -> Staging:
    """A push's staging over a catalog that holds the euro and nothing else."""
    lookups = Lookups(None, uuid.uuid4())  # type: ignore[arg-type]  # nothing here reaches the database
    lookups.currency.remember(EUR)
    return Staging(lookups, defer_references=defer_references)


def stage_all(
    staging: Staging, collection: str, value: Any, *, operation: Operation = Operation.UPSERT
) -> list[RecordOutcome]:
    """Stage the root records of a collection of a push body as a push does."""
    stager = STAGERS[operation][collection]
    outcomes = []
    for item in stager.items(collection, value):
        record = stager.parse(item)
        if isinstance(record, Rejected):
            outcomes.append(RecordOutcome(item.entity, item.path, problems=record.problems))
            continue
        stager.want(staging, record)
        outcomes.append(stager.stage(staging, record, item.path))
    return outcomes


def stage(
    staging: Staging, collection: str, raw: Any, *, operation: Operation = Operation.UPSERT
) -> RecordOutcome:
    """Stage one root record, at ``<collection>.0``."""
    [outcome] = stage_all(staging, collection, [raw], operation=operation)
    return outcome


def payload(record: StagedRecord) -> dict[str, Any]:
    """A staged record's payload as a plain dict, to compare with one."""
    return dict(record.payload)


def codes(outcome: RecordOutcome) -> list[tuple[str, str]]:
    return [(problem.code, problem.path) for problem in outcome.problems]


PRODUCT = {
    "productNumber": "SW-1",
    "name": "Shirt",
    "tax": {"name": "Standard"},
    "prices": [{"currency": "EUR", "gross": 10, "net": 8.4}],
}
