"""The steps every stager shares: identity (create or update), references (found, pending, missing) and
the undo of a rejected record, shown through taxes and products."""

import uuid

from catalog_import.models import RecordAction
from catalog_import.problems import Severity
from catalog_import.resolvers.base import Known
from tests.imports.stagers.support import PRODUCT, codes, stage, staging


class TestIdentity:
    def test_a_new_natural_key_is_a_create_with_a_new_id(self) -> None:
        outcome = stage(staging(), "taxes", {"name": "Standard", "taxRate": 19})

        assert outcome.action is RecordAction.CREATE
        assert outcome.id is not None
        [record] = outcome.staged
        assert (record.entity_id, record.natural_key, record.root) == (outcome.id, "Standard", True)
        assert record.payload == {"name": "Standard", "taxRate": "19"}

    def test_a_key_in_the_catalog_is_an_update_of_that_entity(self) -> None:
        context = staging()
        existing = Known(uuid.uuid4(), "Standard")
        context.lookups.tax.remember(existing)

        outcome = stage(context, "taxes", {"name": "Standard", "taxRate": 7})

        assert (outcome.id, outcome.action) == (existing.id, RecordAction.UPDATE)

    def test_a_key_staged_as_a_create_stays_a_create(self) -> None:
        context = staging()
        first = stage(context, "taxes", {"name": "Standard", "taxRate": 19})

        again = stage(context, "taxes", {"name": "Standard", "taxRate": 7})

        assert (again.id, again.action) == (first.id, RecordAction.CREATE)

    def test_an_id_and_a_key_of_two_entities_are_refused(self) -> None:
        context = staging()
        context.lookups.tax.remember(Known(uuid.uuid4(), "Standard"))

        outcome = stage(context, "taxes", {"id": uuid.uuid4().hex, "name": "Standard"})

        assert codes(outcome) == [("DUPLICATE_TAX_NAME", "taxes.0.name")]
        assert outcome.staged == []

    def test_a_create_names_each_field_it_lacks(self) -> None:
        outcome = stage(staging(), "products", {"productNumber": "SW-1"})

        assert codes(outcome) == [
            ("INVALID_FIELD", "products.0.name"),
            ("INVALID_FIELD", "products.0.tax"),
            ("INVALID_FIELD", "products.0.prices"),
        ]

    def test_an_unknown_id_without_what_a_create_needs_is_not_found(self) -> None:
        entity_id = uuid.uuid4()

        outcome = stage(staging(), "taxes", {"id": entity_id.hex, "taxRate": 7})

        assert codes(outcome) == [("TAX_NOT_FOUND", "taxes.0")]


class TestReferences:
    def test_a_reference_to_a_create_of_the_import_is_a_dependency(self) -> None:
        context = staging()
        tax = stage(context, "taxes", {"name": "Standard", "taxRate": 19})

        outcome = stage(context, "products", PRODUCT)

        [product] = outcome.staged
        assert product.payload["taxId"] == tax.id.hex
        assert [(ref.entity, ref.id, ref.path, ref.nested) for ref in product.refs] == [
            ("tax", tax.id, "products.0.tax", False)
        ]

    def test_a_reference_to_the_catalog_is_no_dependency(self) -> None:
        context = staging()
        context.lookups.tax.remember(Known(uuid.uuid4(), "Standard"))

        [product] = stage(context, "products", PRODUCT).staged

        assert product.refs == []

    def test_a_missing_reference_rejects_the_record(self) -> None:
        outcome = stage(staging(), "products", PRODUCT)

        assert codes(outcome) == [("TAX_NOT_FOUND", "products.0.tax")]
        assert (outcome.id, outcome.action, outcome.staged) == (None, None, [])

    def test_a_deferred_reference_is_kept_pending_with_a_warning(self) -> None:
        outcome = stage(staging(defer_references=True), "products", PRODUCT)

        [problem] = outcome.problems
        assert (problem.code, problem.severity) == ("REFERENCE_PENDING", Severity.WARNING)
        [product] = outcome.staged
        [ref] = product.refs
        assert (ref.entity, ref.key, ref.field, ref.pending) == ("tax", "Standard", "taxId", True)
        assert product.payload["taxId"] is None

    def test_a_list_of_references_keeps_its_order_without_repeats(self) -> None:
        context = staging()
        shoes, shirts = Known(uuid.uuid4(), "Shoes"), Known(uuid.uuid4(), "Shirts")
        context.lookups.category.remember(shoes)
        context.lookups.category.remember(shirts)
        context.lookups.tax.remember(Known(uuid.uuid4(), "Standard"))
        categories = [{"path": ["Shirts"]}, {"id": shoes.id.hex}, {"path": ["Shirts"]}]

        [product] = stage(context, "products", {**PRODUCT, "categories": categories}).staged

        assert product.payload["categoryIds"] == [shirts.id.hex, shoes.id.hex]


class TestUndo:
    def test_a_rejected_record_stages_nothing_the_next_one_sees(self) -> None:
        context = staging()
        # The nested tax is staged before the unknown currency rejects the product.
        prices = [{"currency": "XXX", "gross": 1, "net": 1}]
        rejected = stage(
            context, "products", {**PRODUCT, "tax": {"name": "New", "taxRate": 5}, "prices": prices}
        )

        assert codes(rejected) == [("CURRENCY_NOT_FOUND", "products.0.prices.0.currency")]
        assert context.lookups.tax.by_key("New") is None
        assert context.lookups.product.by_key("SW-1") is None
