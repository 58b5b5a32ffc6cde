"""Products: nested creations (a tax with a rate, media by URL), fields that may not be null, and the
variants of a configurator."""

import uuid

from catalog_import.models import Operation, RecordAction
from catalog_import.resolvers.base import Known
from catalog_import.resolvers.variants import ExistingVariant
from tests.imports.stagers.support import PRODUCT, codes, payload, stage, staging

NEW_TAX = {"name": "Reduced", "taxRate": 7}
CONFIGURATOR = [
    {"property": "Size", "value": "S"},
    {"property": "Size", "value": "M"},
    {"property": "Colour", "value": "Red"},
]


class TestNestedCreations:
    def test_a_tax_with_a_rate_is_created_before_the_product(self) -> None:
        outcome = stage(staging(), "products", {**PRODUCT, "tax": NEW_TAX})

        product, tax = outcome.staged
        assert (tax.entity, tax.action, tax.root, tax.path) == (
            "tax",
            RecordAction.CREATE,
            False,
            "products.0.tax",
        )
        assert payload(tax) == {"name": "Reduced", "taxRate": "7"}
        assert payload(product)["taxId"] == tax.entity_id.hex
        assert [(ref.entity, ref.nested) for ref in product.refs] == [("tax", True)]

    def test_a_media_url_seen_twice_is_one_media(self) -> None:
        context = staging()
        media = [{"url": "https://cdn.example/a.png"}, {"url": "https://cdn.example/a.png", "alt": "A"}]

        outcome = stage(context, "products", {**PRODUCT, "tax": NEW_TAX, "media": media})

        nested_media = [record for record in outcome.staged if record.entity == "media"]
        assert len(nested_media) == 1
        assert payload(outcome.staged[0])["mediaIds"] == [nested_media[0].entity_id.hex]


class TestFields:
    def test_a_field_that_cannot_be_null_is_refused(self) -> None:
        context = staging()
        context.lookups.product.remember(Known(uuid.uuid4(), "SW-1"))

        outcome = stage(context, "products", {"productNumber": "SW-1", "stock": None})

        assert codes(outcome) == [("INVALID_FIELD", "products.0.stock")]

    def test_an_update_carries_only_the_fields_given(self) -> None:
        context = staging()
        existing = Known(uuid.uuid4(), "SW-1")
        context.lookups.product.remember(existing)

        outcome = stage(context, "products", {"productNumber": "SW-1", "stock": 3, "description": None})

        assert outcome.action is RecordAction.UPDATE
        assert payload(outcome.staged[0]) == {"productNumber": "SW-1", "stock": 3, "description": None}

    def test_a_create_without_an_id_may_adopt_a_product_of_another_import_by_number(self) -> None:
        by_number = stage(staging(), "products", {**PRODUCT, "tax": NEW_TAX})
        by_id = stage(staging(), "products", {**PRODUCT, "tax": NEW_TAX, "id": uuid.uuid4().hex})

        assert payload(by_number.staged[0])["adoptByNumber"] is True
        assert by_id.action is RecordAction.CREATE
        assert "adoptByNumber" not in payload(by_id.staged[0])


class TestVariants:
    def test_one_variant_per_combination_numbered_in_order(self) -> None:
        outcome = stage(staging(), "products", {**PRODUCT, "tax": NEW_TAX, "variants": CONFIGURATOR})

        parent = outcome.staged[0]
        variants = [r for r in outcome.staged if r.entity == "product" and r is not parent]
        assert [v.natural_key for v in variants] == ["SW-1.1", "SW-1.2"]
        assert [payload(v)["options"] for v in variants] == [
            ["Size\x1fS", "Colour\x1fRed"],
            ["Size\x1fM", "Colour\x1fRed"],
        ]
        first = payload(variants[0])
        assert (first["parentId"], first["name"], first["adoptByNumber"]) == (
            parent.entity_id.hex,
            "Shirt",
            True,
        )
        # Written after their parent, and after the tax they inherit.
        assert {(ref.entity, ref.nested) for ref in variants[0].refs} == {("product", False), ("tax", False)}

    def test_an_override_gives_a_variant_its_own_number_and_stock(self) -> None:
        overrides = [{"options": [{"group": "Size", "option": "M"}, {"group": "Colour", "option": "Red"}],
                      "productNumber": "SW-1-M", "stock": 5}]  # fmt: skip
        record = {**PRODUCT, "tax": NEW_TAX, "variants": CONFIGURATOR, "variantOverrides": overrides}

        outcome = stage(staging(), "products", record)

        medium = next(r for r in outcome.staged if r.natural_key == "SW-1-M")
        assert medium.path == "products.0.variantOverrides.0"
        assert payload(medium)["stock"] == 5

    def test_an_override_that_matches_no_combination_rejects_the_product(self) -> None:
        overrides = [{"options": [{"group": "Size", "option": "XL"}]}]
        record = {**PRODUCT, "tax": NEW_TAX, "variants": CONFIGURATOR, "variantOverrides": overrides}

        outcome = stage(staging(), "products", record)

        assert codes(outcome) == [("INVALID_FIELD", "products.0.variantOverrides.0.options")]
        assert outcome.staged == []

    def test_existing_variants_are_updated_and_those_no_longer_listed_deleted(self) -> None:
        context = staging()
        parent = Known(uuid.uuid4(), "SW-1")
        context.lookups.product.remember(parent)
        small, large = ExistingVariant(uuid.uuid4(), "SW-1.1"), ExistingVariant(uuid.uuid4(), "SW-1.9")
        context.lookups.variants.remember(
            parent.id, {frozenset({"Size\x1fS", "Colour\x1fRed"}): small, frozenset({"Size\x1fL"}): large}
        )

        outcome = stage(context, "products", {"productNumber": "SW-1", "variants": CONFIGURATOR})

        by_id = {(r.operation, r.entity_id): r for r in outcome.staged}
        assert by_id[(Operation.UPSERT, small.id)].action is RecordAction.UPDATE
        assert by_id[(Operation.DELETE, large.id)].action is RecordAction.DELETE
        assert "productNumber" not in payload(by_id[(Operation.UPSERT, small.id)])
