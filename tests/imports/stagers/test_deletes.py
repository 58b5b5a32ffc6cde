"""Deletes and unassigns: the item names something of the catalog or the import, by id or natural key."""

import uuid

from catalog_import.models import Operation, RecordAction
from catalog_import.resolvers.base import Known
from catalog_import.resolvers.category import path_key
from tests.imports.stagers.support import codes, stage, staging


class TestDeletes:
    def test_a_delete_by_key_stages_the_entity_it_names(self) -> None:
        context = staging()
        shoes = Known(uuid.uuid4(), path_key(["Home", "Shoes"]))
        context.lookups.category.remember(shoes)

        outcome = stage(context, "categories", {"path": ["Home", "Shoes"]}, operation=Operation.DELETE)

        [record] = outcome.staged
        assert (record.operation, record.entity_id, record.action) == (
            Operation.DELETE,
            shoes.id,
            RecordAction.DELETE,
        )

    def test_an_invalid_item_names_its_own_path(self) -> None:
        outcome = stage(staging(), "products", {"sku": "SW-1"}, operation=Operation.DELETE)

        # Read as a one-item list, the item's errors are located at the item, not at ``products.0.0``.
        assert codes(outcome) == [("INVALID_FIELD", "products.0"), ("INVALID_FIELD", "products.0.sku")]

    def test_a_delete_of_nothing_is_not_found(self) -> None:
        outcome = stage(staging(), "taxes", uuid.UUID(int=7).hex, operation=Operation.DELETE)

        assert codes(outcome) == [("TAX_NOT_FOUND", "taxes.0")]


class TestUnassigns:
    def test_links_to_take_off_are_collected_by_kind(self) -> None:
        context = staging()
        product, media = Known(uuid.uuid4(), "SW-1"), Known(uuid.uuid4(), "https://cdn.example/a.png")
        context.lookups.product.remember(product)
        context.lookups.media.remember(media)
        item = {
            "productNumber": "SW-1",
            "media": [{"id": media.id.hex}, {"url": "https://cdn.example/b.png"}, {"filename": "c.png"}],
            "properties": [{"group": "Size", "option": "S"}],
        }

        outcome = stage(context, "products", item, operation=Operation.UNASSIGN)

        [record] = outcome.staged
        assert (record.entity_id, record.action) == (product.id, RecordAction.UNASSIGN)
        assert dict(record.payload) == {
            "mediaIds": [media.id.hex],
            "mediaUrls": ["https://cdn.example/b.png"],
            "mediaFilenames": ["c.png"],
            "categoryIds": [],
            "properties": ["Size\x1fS"],
        }

    def test_an_unknown_category_rejects_the_unassign(self) -> None:
        context = staging()
        context.lookups.product.remember(Known(uuid.uuid4(), "SW-1"))

        outcome = stage(
            context,
            "products",
            {"productNumber": "SW-1", "categories": [{"path": ["Nope"]}]},
            operation=Operation.UNASSIGN,
        )

        assert codes(outcome) == [("CATEGORY_NOT_FOUND", "products.0.categories.0")]
        assert outcome.staged == []
