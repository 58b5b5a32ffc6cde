"""The lookups a push resolves references with: what is staged wins over the catalog, a rejected record's
staging is undone, and loading asks the catalog and the import for what the records wanted."""

import uuid
from typing import Any

from sqlalchemy import event, text

from catalog_import.models.catalog import CATEGORY_PATH_SEPARATOR
from catalog_import.resolvers.base import Known, Reference, describe, not_found
from catalog_import.resolvers.category import path_key, path_of
from catalog_import.resolvers.lookups import Lookups
from catalog_import.resolvers.tax import TaxLookup
from tests.factories import Api


def tax_lookup() -> TaxLookup:
    return TaxLookup(uuid.uuid4())


class TestLookup:
    def test_a_staged_entity_is_found_by_id_and_key(self) -> None:
        lookup = tax_lookup()
        known = Known(uuid.uuid4(), "Standard", creating=True)

        lookup.stage(known)

        assert lookup.by_id(known.id) is known
        assert lookup.by_key("Standard") is known
        assert lookup.find(None, "Standard") is known
        assert known.staged

    def test_an_id_comes_before_a_key(self) -> None:
        lookup = tax_lookup()
        lookup.stage(Known(uuid.uuid4(), "Standard"))

        assert lookup.find(uuid.uuid4(), "Standard") is None

    def test_a_renamed_entity_is_no_longer_found_by_its_old_key(self) -> None:
        lookup = tax_lookup()
        entity_id = uuid.uuid4()
        lookup.stage(Known(entity_id, "Old name"))

        lookup.stage(Known(entity_id, "New name"))

        assert lookup.by_key("Old name") is None
        assert lookup.by_key("New name") is lookup.by_id(entity_id)

    def test_restore_puts_back_what_staging_replaced(self) -> None:
        lookup = tax_lookup()
        entity_id = uuid.uuid4()
        before = Known(entity_id, "Old name")
        lookup.stage(before)

        lookup.stage(Known(entity_id, "New name"))
        lookup.restore(entity_id, before, "New name", None)

        assert lookup.by_id(entity_id) is before
        assert lookup.by_key("Old name") is before
        assert lookup.by_key("New name") is None


class TestUndo:
    def test_a_rejected_record_leaves_the_lookups_as_they_were(self) -> None:
        lookups = Lookups(None, uuid.uuid4())  # type: ignore[arg-type]
        kept = Known(uuid.uuid4(), "Kept")
        lookups.stage(lookups.tax, kept)

        lookups.begin()
        lookups.stage(lookups.tax, Known(uuid.uuid4(), "Rejected"))
        lookups.stage(lookups.tax, Known(kept.id, "Renamed"))
        lookups.rollback()

        assert lookups.tax.by_key("Rejected") is None
        assert lookups.tax.by_key("Renamed") is None
        assert lookups.tax.by_key("Kept") is kept

    def test_an_accepted_record_stays_staged(self) -> None:
        lookups = Lookups(None, uuid.uuid4())  # type: ignore[arg-type]

        lookups.begin()
        staged = Known(uuid.uuid4(), "Accepted")
        lookups.stage(lookups.tax, staged)
        lookups.commit()
        lookups.rollback()

        assert lookups.tax.by_key("Accepted") is staged


def test_a_category_path_is_one_key_and_back() -> None:
    path = ["Home", "Shoes", "Boots"]

    assert path_key(path) == CATEGORY_PATH_SEPARATOR.join(path)
    assert path_of(path_key(path)) == path


def test_a_reference_survives_its_json_form() -> None:
    reference = Reference("category", "products.0.categories.1", key="Home", field="categoryIds", many=True)

    assert Reference.from_json(reference.to_json()) == reference


def test_not_found_names_what_was_looked_for() -> None:
    entity_id = uuid.uuid4()

    assert describe("category", None, path_key(["Home", "Shoes"])) == "Home/Shoes"
    problem = not_found("tax", "products.0.tax", entity_id=entity_id)
    assert (problem.code, problem.path) == ("TAX_NOT_FOUND", "products.0.tax")
    assert problem.message == f"Tax ID {entity_id.hex} not found"


async def test_loading_overlays_the_import_on_the_catalog(api: Api) -> None:
    done = await api.import_records(
        {
            "taxes": [{"name": "In the catalog", "taxRate": 19}],
            "categories": [{"name": "Shoes"}],
        }
    )
    assert done["status"] == "done"
    open_import = await api.start()
    pushed = await api.push(
        open_import, {"taxes": [{"name": "Staged", "taxRate": 7}], "categories": [{"name": "Shirts"}]}
    )
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    async with api.session_factory() as session:
        catalog_id = await session.scalar(text("SELECT id FROM taxes WHERE name = 'In the catalog'"))
        lookups = Lookups(session, uuid.UUID(open_import))
        lookups.tax.want(keys=["In the catalog", "Staged", None, "Missing"], ids=[None])
        lookups.category.want(keys=["Shoes", "Shirts"])
        lookups.currency.want(keys=["EUR"])

        engine = session.get_bind()
        event.listen(engine, "before_cursor_execute", count)
        try:
            await lookups.load()
        finally:
            event.remove(engine, "before_cursor_execute", count)

    in_catalog, staged = lookups.tax.by_key("In the catalog"), lookups.tax.by_key("Staged")
    assert in_catalog is not None and in_catalog.id == catalog_id and not in_catalog.staged
    assert staged is not None and staged.id.hex == pushed["records"][0]["id"]
    assert staged.staged and staged.creating
    assert lookups.tax.by_key("Missing") is None
    shoes, shirts = lookups.category.by_key("Shoes"), lookups.category.by_key("Shirts")
    assert shoes is not None and not shoes.staged
    assert shirts is not None and shirts.staged and shirts.id.hex == pushed["records"][1]["id"]
    assert lookups.currency.by_key("EUR") is not None
    assert len(statements) == 1, "the lookups of all kinds load in one statement"
