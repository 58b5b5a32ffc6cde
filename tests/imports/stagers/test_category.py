"""Categories: the natural key is the path, a parent named by path or id, moves to the root."""

import uuid

from catalog_import.models import RecordAction
from catalog_import.resolvers.base import Known
from catalog_import.resolvers.category import path_key
from tests.imports.stagers.support import codes, payload, stage, staging


class TestCategories:
    def test_a_category_is_keyed_by_its_path(self) -> None:
        context = staging()
        home = stage(context, "categories", {"name": "Home"})

        shoes = stage(context, "categories", {"name": "Shoes", "parent": ["Home"]})

        [record] = shoes.staged
        assert record.natural_key == path_key(["Home", "Shoes"])
        assert payload(record)["parentId"] == home.id.hex
        assert [(ref.entity, ref.id) for ref in record.refs] == [("category", home.id)]

    def test_a_name_under_an_existing_parent_by_id_updates_the_child_it_names(self) -> None:
        context = staging()
        home, shoes = Known(uuid.uuid4(), "Home"), Known(uuid.uuid4(), path_key(["Home", "Shoes"]))
        context.lookups.category.remember(home)
        context.lookups.category.remember(shoes)

        outcome = stage(context, "categories", {"name": "Shoes", "parent": {"id": home.id.hex}})

        assert (outcome.id, outcome.action) == (shoes.id, RecordAction.UPDATE)

    def test_a_category_cannot_be_its_own_parent(self) -> None:
        context = staging()
        home = Known(uuid.uuid4(), "Home")
        context.lookups.category.remember(home)

        outcome = stage(context, "categories", {"id": home.id.hex, "parent": {"id": home.id.hex}})

        assert codes(outcome) == [("INVALID_FIELD", "categories.0.parent")]

    def test_a_null_parent_moves_a_category_to_the_root(self) -> None:
        context = staging()
        shoes = Known(uuid.uuid4(), path_key(["Home", "Shoes"]))
        context.lookups.category.remember(shoes)

        outcome = stage(context, "categories", {"id": shoes.id.hex, "parent": None})

        [record] = outcome.staged
        assert record.natural_key == "Shoes"
        assert payload(record)["parentId"] is None

    def test_listed_products_are_resolved_without_repeats(self) -> None:
        context = staging()
        product = Known(uuid.uuid4(), "SW-1")
        context.lookups.product.remember(product)
        products = [{"productNumber": "SW-1"}, {"id": product.id.hex}, {"productNumber": "SW-2"}]

        outcome = stage(context, "categories", {"name": "Home", "products": products})

        assert codes(outcome) == [("PRODUCT_NOT_FOUND", "categories.0.products.2")]
