"""Custom entity records: checked against their declaration, nested in products with ids that follow
from the product, and deleted by id."""

import uuid
from typing import Any

from catalog_import.models import Operation, RecordAction
from catalog_import.resolvers.base import Known
from catalog_import.resolvers.custom_entity import Declared
from tests.imports.stagers.support import PRODUCT, codes, stage, stage_all, staging

WARRANTY = Declared(
    "warranty",
    {"type": "object", "properties": {"years": {"type": "integer"}}, "required": ["years"]},
    "many",
)


def declared_staging() -> Any:
    context = staging()
    context.lookups.declarations.remember(WARRANTY)
    context.lookups.tax.remember(Known(uuid.uuid4(), "Standard"))
    return context


class TestCustomRecords:
    def test_a_record_of_an_undeclared_entity_is_refused(self) -> None:
        [outcome] = stage_all(staging(), "extensions", {"warranty": [{"years": 2}]})

        assert codes(outcome) == [("CUSTOM_ENTITY_UNKNOWN", "extensions.warranty.0")]

    def test_a_create_is_checked_against_the_declared_schema(self) -> None:
        [outcome] = stage_all(declared_staging(), "extensions", {"warranty": [{"years": "two"}]})

        assert [code for code, _ in codes(outcome)] == ["INVALID_FIELD"]
        assert codes(outcome)[0][1].startswith("extensions.warranty.0")

    def test_a_root_record_is_staged_with_its_type(self) -> None:
        [outcome] = stage_all(declared_staging(), "extensions", {"warranty": [{"years": 2}]})

        [record] = outcome.staged
        assert (outcome.entity, record.entity, record.action) == (
            "warranty",
            "custom_entity",
            RecordAction.CREATE,
        )
        assert dict(record.payload) == {"type": "warranty", "data": {"years": 2}}

    def test_a_nested_record_keeps_its_id_across_pushes(self) -> None:
        product = {**PRODUCT, "id": uuid.uuid4().hex, "extensions": {"warranty": [{"years": 2}]}}

        first = stage(declared_staging(), "products", product)
        second = stage(declared_staging(), "products", product)

        ids = [
            [r.entity_id for r in outcome.staged if r.entity == "custom_entity"]
            for outcome in (first, second)
        ]
        assert ids[0] == ids[1] and len(ids[0]) == 1
        assert dict(first.staged[0].payload)["customEntityIds"] == [ids[0][0].hex]

    def test_a_delete_names_a_record_of_its_entity(self) -> None:
        context = declared_staging()
        record = Known(uuid.uuid4(), "warranty")
        context.lookups.custom_entity.remember(record)

        deleted, unnamed = stage_all(
            context, "extensions", {"warranty": [record.id.hex, {"name": "x"}]}, operation=Operation.DELETE
        )

        assert (deleted.id, deleted.action) == (record.id, RecordAction.DELETE)
        assert codes(unnamed) == [("INVALID_FIELD", "extensions.warranty.1")]
