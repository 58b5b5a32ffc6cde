"""What the writers do to the catalog: partial updates, no-op re-imports, prices per currency, category
paths kept right through renames and moves, deletes after upserts, and unassigns."""

from typing import Any

from tests.committer.support import (
    all_items,
    categories_at,
    category,
    codes,
    failure_at,
    get_ok,
    products_numbered,
    tax_names,
)
from tests.factories import Api, product
from tests.images import IMAGES

EUR = {"currency": "EUR", "gross": 11.9, "net": 10, "linked": True}
USD = {"currency": "USD", "gross": 13, "net": 11, "linked": False}


def prices_of(found: dict[str, Any]) -> list[tuple[str, float, float, bool]]:
    return [(p["currency"], float(p["gross"]), float(p["net"]), p["linked"]) for p in found["prices"]]


class TestProductUpdates:
    async def seed(self, api: Api) -> dict[str, Any]:
        await api.import_records(
            {
                "categories": [{"name": "Shelf"}],
                "products": [
                    product(
                        "UPD-1",
                        description="Original description",
                        stock=3,
                        customFields={"colour": "blue"},
                        categories=[{"path": ["Shelf"]}],
                    )
                ],
            }
        )
        return await api.product("UPD-1")

    async def test_update_changes_only_the_fields_it_carries(self, api: Api) -> None:
        before = await self.seed(api)

        status = await api.import_records({"products": [{"productNumber": "UPD-1", "stock": 42}]})

        assert status["totals"] == {
            "product": 1,
            "media": 0,
            "category": 0,
            "tax": 0,
            "total": 1,
            "failures": 0,
        }
        after = await api.product("UPD-1")
        assert after["stock"] == 42
        unchanged = ("id", "name", "description", "active", "customFields", "tax", "prices", "categories")
        assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}
        assert after["updatedAt"] > before["updatedAt"]

    async def test_one_batch_updates_known_products_and_creates_new_ones(self, api: Api) -> None:
        await self.seed(api)

        status = await api.import_records(
            {
                "products": [
                    {"productNumber": "UPD-1", "stock": 7},
                    product("UPD-NEW", description="Fresh", stock=5),
                ]
            }
        )

        assert status["failures"] == []
        assert (await api.product("UPD-1"))["stock"] == 7
        created = await api.product("UPD-NEW")
        assert (created["description"], created["stock"]) == ("Fresh", 5)

    async def test_update_by_id_with_a_new_number_keeps_the_rest(self, api: Api) -> None:
        before = await self.seed(api)

        await api.import_records({"products": [{"id": before["id"], "productNumber": "UPD-2"}]})

        assert await products_numbered(api, "UPD-1") == []
        after = await api.product("UPD-2")
        assert after["id"] == before["id"]
        assert (after["name"], after["stock"], after["prices"]) == (before["name"], 3, before["prices"])

    async def test_fields_given_as_null_are_cleared(self, api: Api) -> None:
        await self.seed(api)

        await api.import_records({"products": [{"productNumber": "UPD-1", "description": None}]})

        after = await api.product("UPD-1")
        assert after["description"] is None
        assert after["customFields"] == {"colour": "blue"}

    async def test_unchanged_reimport_leaves_updated_at_alone(self, api: Api) -> None:
        before = await self.seed(api)

        status = await api.import_records(
            {
                "products": [
                    product(
                        "UPD-1",
                        description="Original description",
                        stock="3",
                        customFields={"colour": "blue"},
                        categories=[{"path": ["Shelf"]}],
                    )
                ]
            }
        )

        assert status["failures"] == []
        assert await api.product("UPD-1") == before

    async def test_prices_are_upserted_per_currency(self, api: Api) -> None:
        await self.seed(api)

        await api.import_records({"products": [{"productNumber": "UPD-1", "prices": [USD]}]})

        assert prices_of(await api.product("UPD-1")) == [
            ("EUR", 11.9, 10.0, True),
            ("USD", 13.0, 11.0, False),
        ]

    async def test_a_price_in_a_known_currency_is_replaced(self, api: Api) -> None:
        await self.seed(api)

        await api.import_records(
            {"products": [{"productNumber": "UPD-1", "prices": [{**EUR, "gross": 23.8, "net": 20}]}]}
        )

        assert prices_of(await api.product("UPD-1")) == [("EUR", 23.8, 20.0, True)]

    async def test_tax_rate_update_shows_on_the_product(self, api: Api) -> None:
        await self.seed(api)

        await api.import_records({"taxes": [{"name": "Standard rate", "taxRate": 16}]})

        assert float((await api.product("UPD-1"))["tax"]["taxRate"]) == 16
        assert await tax_names(api) == ["Standard rate"]

    async def test_media_update_changes_only_the_given_fields(self, api: Api) -> None:
        url = f"{IMAGES}/photo.jpg"
        await api.import_records(
            {"products": [product("PIC-1", media=[{"url": url, "title": "Old", "alt": "Alt"}])]}
        )

        await api.import_records({"media": [{"url": url, "title": "New"}]})

        (found,) = (await get_ok(api, "/api/catalog/media", url=url))["items"]
        assert (found["title"], found["alt"]) == ("New", "Alt")
        assert [m["title"] for m in (await api.product("PIC-1"))["media"]] == ["New"]


class TestCategoryPaths:
    async def seed(self, api: Api) -> dict[str, str]:
        """Shop > Garden > Tools > Spades, and Outlet; a product in Spades. Ids by name."""
        await api.import_records(
            {
                "categories": [
                    {"name": "Shop"},
                    {"name": "Garden", "parent": ["Shop"]},
                    {"name": "Tools", "parent": ["Shop", "Garden"]},
                    {"name": "Spades", "parent": ["Shop", "Garden", "Tools"]},
                    {"name": "Outlet"},
                ],
                "products": [product("SPADE", categories=[{"path": ["Shop", "Garden", "Tools", "Spades"]}])],
            }
        )
        return {
            item["name"]: item["id"] for item in await all_items(api, "/api/catalog/categories", limit=100)
        }

    async def test_rename_updates_the_paths_of_the_subtree(self, api: Api) -> None:
        ids = await self.seed(api)

        status = await api.import_records({"categories": [{"id": ids["Garden"], "name": "Yard"}]})

        assert status["failures"] == []
        assert (await category(api, "Shop", "Yard"))["id"] == ids["Garden"]
        assert (await category(api, "Shop", "Yard", "Tools"))["id"] == ids["Tools"]
        assert (await category(api, "Shop", "Yard", "Tools", "Spades"))["id"] == ids["Spades"]
        assert await categories_at(api, "Shop", "Garden") == []
        assert await categories_at(api, "Shop", "Garden", "Tools", "Spades") == []
        assert (await api.product("SPADE"))["categories"][0]["path"] == ["Shop", "Yard", "Tools", "Spades"]

    async def test_move_updates_the_paths_of_the_subtree(self, api: Api) -> None:
        ids = await self.seed(api)

        await api.import_records({"categories": [{"id": ids["Tools"], "parent": ["Outlet"]}]})

        tools = await category(api, "Outlet", "Tools")
        assert (tools["id"], tools["parentId"]) == (ids["Tools"], ids["Outlet"])
        assert (await category(api, "Outlet", "Tools", "Spades"))["id"] == ids["Spades"]
        assert await categories_at(api, "Shop", "Garden", "Tools") == []
        assert (await category(api, "Shop", "Garden"))["id"] == ids["Garden"]

    async def test_rename_of_a_category_and_its_child_in_one_import(self, api: Api) -> None:
        ids = await self.seed(api)

        await api.import_records(
            {"categories": [{"id": ids["Garden"], "name": "Yard"}, {"id": ids["Tools"], "name": "Equipment"}]}
        )

        assert (await category(api, "Shop", "Yard", "Equipment"))["id"] == ids["Tools"]
        assert (await category(api, "Shop", "Yard", "Equipment", "Spades"))["id"] == ids["Spades"]
        assert (await api.product("SPADE"))["categories"][0]["path"] == [
            "Shop",
            "Yard",
            "Equipment",
            "Spades",
        ]

    async def test_moving_a_category_below_itself_fails(self, api: Api) -> None:
        ids = await self.seed(api)
        import_id = await api.start()
        pushed = await api.push(
            import_id,
            {"categories": [{"id": ids["Garden"], "parent": {"id": ids["Spades"]}}, {"name": "Sale"}]},
        )
        assert not pushed["containsErrors"]

        status = await api.commit_and_run(import_id)

        failure = failure_at(status, "categories.0")
        assert failure["id"] == ids["Garden"]
        assert codes(failure["details"]) == ["INVALID_FIELD"]
        assert failure["details"][0]["path"] == "categories.0"
        assert status["totals"]["category"] == 1
        assert (await category(api, "Shop", "Garden", "Tools", "Spades"))["id"] == ids["Spades"]
        assert (await category(api, "Sale"))["parentId"] is None

    async def test_two_categories_moved_below_each_other_in_one_batch(self, api: Api) -> None:
        ids = await self.seed(api)
        import_id = await api.start()
        await api.push(
            import_id,
            {
                "categories": [
                    {"id": ids["Outlet"], "parent": {"id": ids["Spades"]}},
                    {"id": ids["Shop"], "parent": {"id": ids["Outlet"]}},
                ]
            },
        )

        status = await api.commit_and_run(import_id)

        # The first move is made; the second would then put Shop below itself.
        assert status["status"] == "done"
        failure = failure_at(status, "categories.1")
        assert failure["id"] == ids["Shop"]
        assert codes(failure["details"]) == ["INVALID_FIELD"]
        assert status["totals"] == {
            "product": 0,
            "media": 0,
            "category": 1,
            "tax": 0,
            "total": 1,
            "failures": 1,
        }
        outlet = await category(api, "Shop", "Garden", "Tools", "Spades", "Outlet")
        assert outlet["id"] == ids["Outlet"]
        assert (await category(api, "Shop"))["parentId"] is None


class TestDeletes:
    async def test_product_and_its_tax_are_deleted_in_one_import(self, api: Api) -> None:
        await api.import_records({"products": [product("GONE")]})
        import_id = await api.start()
        # The tax first in the body: deletes still run dependents first.
        pushed = await api.push(
            import_id,
            {"taxes": [{"name": "Standard rate"}], "products": [{"productNumber": "GONE"}]},
            "delete",
        )
        assert [r["action"] for r in pushed["records"]] == ["delete", "delete"]

        status = await api.commit_and_run(import_id)

        assert status["failures"] == []
        assert status["totals"] == {
            "product": 1,
            "media": 0,
            "category": 0,
            "tax": 1,
            "total": 2,
            "failures": 0,
        }
        assert await products_numbered(api, "GONE") == []
        assert await tax_names(api) == []

    async def test_tax_still_used_is_not_deleted(self, api: Api) -> None:
        await api.import_records({"products": [product("STAYS")]})
        import_id = await api.start()
        pushed = await api.push(import_id, {"taxes": [{"name": "Standard rate"}]}, "delete")

        status = await api.commit_and_run(import_id)

        assert status["status"] == "done"
        failure = failure_at(status, "taxes.0")
        assert (failure["entity"], failure["id"]) == ("tax", pushed["records"][0]["id"])
        assert codes(failure["details"]) == ["TAX_IN_USE"]
        assert failure["details"][0]["severityCode"] == 3
        assert await tax_names(api) == ["Standard rate"]
        assert (await api.product("STAYS"))["tax"]["name"] == "Standard rate"

    async def test_deletes_run_after_the_upserts(self, api: Api) -> None:
        await api.import_records({"products": [product("MOVES")]})
        import_id = await api.start()
        # The product leaves the tax in the same import that deletes the tax.
        await api.push(import_id, {"taxes": [{"name": "Standard rate"}]}, "delete")
        await api.push(
            import_id, {"products": [{"productNumber": "MOVES", "tax": {"name": "New", "taxRate": 5}}]}
        )

        status = await api.commit_and_run(import_id)

        assert status["failures"] == []
        assert (await api.product("MOVES"))["tax"]["name"] == "New"
        assert await tax_names(api) == ["New"]

    async def test_category_delete_takes_its_subtree_and_product_links(self, api: Api) -> None:
        await api.import_records(
            {
                "categories": [
                    {"name": "Old"},
                    {"name": "Sub", "parent": ["Old"]},
                    {"name": "Leaf", "parent": ["Old", "Sub"]},
                    {"name": "Kept"},
                ],
                "products": [
                    product("IN-LEAF", categories=[{"path": ["Old", "Sub", "Leaf"]}, {"path": ["Kept"]}]),
                    product("IN-OLD", categories=[{"path": ["Old"]}]),
                ],
            }
        )
        import_id = await api.start()
        await api.push(import_id, {"categories": [{"path": ["Old"]}]}, "delete")

        status = await api.commit_and_run(import_id)

        assert status["failures"] == []
        assert await categories_at(api, "Old") == []
        assert await categories_at(api, "Old", "Sub") == []
        assert await categories_at(api, "Old", "Sub", "Leaf") == []
        assert [c["path"] for c in (await api.product("IN-LEAF"))["categories"]] == [["Kept"]]
        assert (await api.product("IN-OLD"))["categories"] == []
        assert (await category(api, "Kept"))["productCount"] == 1

    async def test_media_delete_removes_its_links(self, api: Api) -> None:
        url = f"{IMAGES}/old.jpg"
        await api.import_records({"products": [product("PIC", media=[{"url": url}])]})
        import_id = await api.start()
        await api.push(import_id, {"media": [{"url": url}]}, "delete")

        status = await api.commit_and_run(import_id)

        assert status["totals"]["media"] == 1
        assert (await get_ok(api, "/api/catalog/media", url=url))["items"] == []
        assert (await api.product("PIC"))["media"] == []

    async def test_delete_of_something_already_gone_counts_as_done(self, api: Api) -> None:
        await api.import_records({"products": [product("TWICE")]})
        first, second = await api.start("first"), await api.start("second")
        await api.push(first, {"products": [{"productNumber": "TWICE"}]}, "delete")
        await api.push(second, {"products": [{"productNumber": "TWICE"}]}, "delete")
        await api.commit_and_run(first)

        status = await api.commit_and_run(second)

        assert status["status"] == "done"
        assert status["failures"] == []
        assert status["totals"] == {
            "product": 1,
            "media": 0,
            "category": 0,
            "tax": 0,
            "total": 1,
            "failures": 0,
        }
        assert status["progress"]["processed"] == status["progress"]["total"] == 1


class TestUnassign:
    async def seed(self, api: Api) -> dict[str, Any]:
        await api.import_records(
            {
                "categories": [{"name": "One"}, {"name": "Two"}, {"name": "Sub", "parent": ["Two"]}],
                "products": [
                    product(
                        "LINKED",
                        categories=[{"path": ["One"]}, {"path": ["Two"]}, {"path": ["Two", "Sub"]}],
                        media=[
                            {"url": f"{IMAGES}/a.jpg", "filename": "a.jpg"},
                            {"url": f"{IMAGES}/b.jpg", "filename": "b.jpg"},
                            {"url": f"{IMAGES}/c.jpg", "filename": "c.jpg"},
                            {"url": f"{IMAGES}/d.jpg", "filename": "d.jpg"},
                        ],
                    )
                ],
            }
        )
        return await api.product("LINKED")

    async def unassign(self, api: Api, links: dict[str, Any]) -> dict[str, Any]:
        import_id = await api.start()
        pushed = await api.push(import_id, {"products": [{"productNumber": "LINKED", **links}]}, "unassign")
        assert [(r["action"], r["errors"]) for r in pushed["records"]] == [("unassign", [])]
        status = await api.commit_and_run(import_id)
        assert status["failures"] == []
        return await api.product("LINKED")

    async def test_unassign_removes_media_by_url_filename_and_id(self, api: Api) -> None:
        before = await self.seed(api)
        by_url = {m["sourceUrl"]: m["id"] for m in before["media"]}

        after = await self.unassign(
            api,
            {
                "media": [
                    {"url": f"{IMAGES}/a.jpg"},
                    {"filename": "b.jpg"},
                    {"id": by_url[f"{IMAGES}/c.jpg"]},
                ]
            },
        )

        assert [m["sourceUrl"] for m in after["media"]] == [f"{IMAGES}/d.jpg"]
        assert after["categories"] == before["categories"]
        # Only the links go: the media themselves stay.
        for url in by_url:
            assert [m["id"] for m in (await get_ok(api, "/api/catalog/media", url=url))["items"]] == [
                by_url[url]
            ]

    async def test_unassign_removes_categories_by_path(self, api: Api) -> None:
        before = await self.seed(api)

        after = await self.unassign(api, {"categories": [{"path": ["Two"]}, {"path": ["Two", "Sub"]}]})

        assert [c["path"] for c in after["categories"]] == [["One"]]
        assert after["media"] == before["media"]
        assert (await category(api, "Two", "Sub"))["productCount"] == 0

    async def test_unassign_removes_categories_by_id(self, api: Api) -> None:
        before = await self.seed(api)
        one = next(c for c in before["categories"] if c["path"] == ["One"])

        after = await self.unassign(api, {"categories": [{"id": one["id"]}]})

        assert [c["path"] for c in after["categories"]] == [["Two"], ["Two", "Sub"]]

    async def test_unassign_of_links_that_do_not_exist_changes_nothing(self, api: Api) -> None:
        before = await self.seed(api)
        await api.import_records({"categories": [{"name": "Unlinked"}]})
        import_id = await api.start()
        await api.push(
            import_id,
            {"products": [{"productNumber": "LINKED", "categories": [{"path": ["Unlinked"]}]}]},
            "unassign",
        )

        status = await api.commit_and_run(import_id)

        assert status["failures"] == []
        assert await api.product("LINKED") == before


class TestAdoptingWhatAnotherImportCreated:
    """Two imports push the same new tax, media URL or category path; the one committed second adopts
    the entity the first created instead of failing on its natural key."""

    async def two_imports(self, api: Api, first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
        first_id, second_id = await api.start("first"), await api.start("second")
        assert not (await api.push(first_id, first))["containsErrors"]
        assert not (await api.push(second_id, second))["containsErrors"]
        assert (await api.commit_and_run(first_id))["totals"]["failures"] == 0
        return await api.commit_and_run(second_id)

    async def test_a_nested_tax_is_shared(self, api: Api) -> None:
        status = await self.two_imports(
            api, {"products": [product("ADOPT-1")]}, {"products": [product("ADOPT-2")]}
        )

        assert status["failures"] == []
        first, second = await api.product("ADOPT-1"), await api.product("ADOPT-2")
        assert first["tax"] == second["tax"]
        assert await tax_names(api) == ["Standard rate"]

    async def test_media_from_the_same_url_are_one_media(self, api: Api) -> None:
        picture = {"url": f"{IMAGES}/shared.jpg", "title": "first title"}
        status = await self.two_imports(
            api,
            {"products": [product("ADOPT-M1", media=[picture])]},
            {"products": [product("ADOPT-M2", media=[{**picture, "title": "second title"}])]},
        )

        assert status["failures"] == []
        first, second = await api.product("ADOPT-M1"), await api.product("ADOPT-M2")
        assert first["media"][0]["id"] == second["media"][0]["id"]
        # A nested media never updates the one it names.
        assert second["media"][0]["title"] == "first title"

    async def test_a_category_path_is_shared(self, api: Api) -> None:
        tree = {"categories": [{"name": "Adopted"}, {"name": "Leaf", "parent": ["Adopted"]}]}
        status = await self.two_imports(
            api,
            {**tree, "products": [product("ADOPT-C1", categories=[{"path": ["Adopted", "Leaf"]}])]},
            {**tree, "products": [product("ADOPT-C2", categories=[{"path": ["Adopted", "Leaf"]}])]},
        )

        assert status["failures"] == []
        first, second = await api.product("ADOPT-C1"), await api.product("ADOPT-C2")
        assert first["categories"] == second["categories"]
        assert [c["path"] for c in await categories_at(api, "Adopted", "Leaf")] == [["Adopted", "Leaf"]]


class TestMovingToTheRoot:
    async def test_parent_null_moves_a_category_and_its_subtree_to_the_root(self, api: Api) -> None:
        await api.import_records(
            {
                "categories": [
                    {"name": "Shop"},
                    {"name": "Garden", "parent": ["Shop"]},
                    {"name": "Tools", "parent": ["Shop", "Garden"]},
                ]
            }
        )
        garden = (await categories_at(api, "Shop", "Garden"))[0]

        status = await api.import_records({"categories": [{"id": garden["id"], "parent": None}]})

        assert status["failures"] == []
        assert (await categories_at(api, "Garden", "Tools"))[0]["parentId"] == garden["id"]
        assert (await get_ok(api, f"/api/catalog/categories/{garden['id']}"))["parentId"] is None
