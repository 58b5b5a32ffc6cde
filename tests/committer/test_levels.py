"""Levels at commit come from what records reference, not from the order they were pushed in: whatever a
record needs is written before it."""

from typing import Any

from tests.committer.support import category, codes, levels_by_key, staged_rows
from tests.factories import Api, product
from tests.images import IMAGES

TREE = [["Home"], ["Home", "Garden"], ["Home", "Garden", "Tools"]]


def category_record(path: list[str]) -> dict[str, Any]:
    """The record creating the category at ``path``, its parent named by path."""
    record: dict[str, Any] = {"name": path[-1]}
    if len(path) > 1:
        record["parent"] = path[:-1]
    return record


class TestLevelsFromReferences:
    async def push_tree_in_reverse(self, api: Api) -> tuple[str, list[dict[str, Any]]]:
        """Products first, then the leaf category, then its parent, then the root, each in its own push."""
        import_id = await api.start(deferReferences=True)
        results = [
            await api.push(
                import_id,
                {
                    "products": [
                        product("TOOL-1", categories=[{"path": TREE[2]}]),
                        product("TOOL-2", categories=[{"path": TREE[2]}, {"path": TREE[1]}]),
                    ]
                },
            )
        ]
        for path in reversed(TREE):
            results.append(await api.push(import_id, {"categories": [category_record(path)]}))
        return import_id, results

    async def test_tree_pushed_in_reverse_is_imported_completely(self, api: Api) -> None:
        import_id, results = await self.push_tree_in_reverse(api)
        assert all(not result["containsErrors"] for result in results)
        first = results[0]["records"]
        assert codes(first[0]["errors"]) == ["REFERENCE_PENDING"]
        assert first[0]["errors"][0]["severity"] == "warning"
        assert first[0]["errors"][0]["path"] == "products.0.categories.0"
        assert codes(first[1]["errors"]) == ["REFERENCE_PENDING", "REFERENCE_PENDING"]

        status = await api.commit_and_run(import_id)

        assert status["status"] == "done"
        assert status["failures"] == []
        assert status["totals"] == {
            "product": 2,
            "media": 0,
            "category": 3,
            "tax": 1,
            "total": 6,
            "failures": 0,
        }
        home, garden, tools = [await category(api, *path) for path in TREE]
        assert home["parentId"] is None
        assert garden["parentId"] == home["id"]
        assert tools["parentId"] == garden["id"]
        assert tools["productCount"] == 2
        assert garden["productCount"] == 1
        tool_1, tool_2 = await api.product("TOOL-1"), await api.product("TOOL-2")
        assert [c["path"] for c in tool_1["categories"]] == [TREE[2]]
        assert sorted(c["path"] for c in tool_2["categories"]) == [TREE[1], TREE[2]]

    async def test_progress_counts_tree_depth_plus_one_levels(self, api: Api) -> None:
        import_id, _results = await self.push_tree_in_reverse(api)
        await api.commit(import_id)
        committed = await api.status(import_id)
        assert committed["status"] == "importing"
        assert committed["progress"]["processed"] == 0

        status = await api.run(import_id)

        # Three category levels above the products.
        assert status["progress"] == {"total": 6, "processed": 6, "level": None, "levels": 4}

    async def test_dependencies_sit_above_their_dependents(self, api: Api) -> None:
        import_id, _results = await self.push_tree_in_reverse(api)
        await api.commit_and_run(import_id)

        levels = levels_by_key(await staged_rows(api, import_id))

        assert levels == {
            ("product", "TOOL-1"): 0,
            ("product", "TOOL-2"): 0,
            ("tax", "Standard rate"): 1,
            ("category", "Home/Garden/Tools"): 1,
            ("category", "Home/Garden"): 2,
            ("category", "Home"): 3,
        }

    async def test_push_order_does_not_matter_without_pending_references(self, api: Api) -> None:
        import_id = await api.start()
        await api.push(import_id, {"categories": [category_record(path) for path in TREE]})
        await api.push(import_id, {"products": [product("TOOL-1", categories=[{"path": TREE[2]}])]})

        status = await api.commit_and_run(import_id)

        assert status["progress"]["levels"] == 4
        assert status["totals"]["total"] == 5
        assert (await api.product("TOOL-1"))["categories"][0]["path"] == TREE[2]

    async def test_records_of_existing_entities_add_no_level(self, api: Api) -> None:
        await api.import_records({"categories": [category_record(path) for path in TREE]})
        import_id = await api.start()
        await api.push(import_id, {"products": [product("TOOL-1", categories=[{"path": TREE[2]}])]})

        status = await api.commit_and_run(import_id)

        # Only the new tax sits above the product: the categories exist already.
        assert status["progress"]["levels"] == 2
        assert status["totals"] == {
            "product": 1,
            "media": 0,
            "category": 0,
            "tax": 1,
            "total": 2,
            "failures": 0,
        }


class TestDesignExample:
    """The design's example: two products with nested taxes and media."""

    BODY = {
        "products": [
            product(
                "PROD-1",
                tax={"name": "Tax 1", "taxRate": 19},
                media=[{"url": f"{IMAGES}/1.jpg"}, {"url": f"{IMAGES}/2.jpg"}],
            ),
            product(
                "PROD-2",
                tax={"name": "Tax 2", "taxRate": 7},
                media=[{"url": f"{IMAGES}/3.jpg"}],
            ),
        ]
    }

    async def test_nested_taxes_and_media_sit_one_level_above_the_products(self, api: Api) -> None:
        import_id = await api.start()
        await api.push(import_id, self.BODY)

        status = await api.commit_and_run(import_id)

        assert status["progress"]["levels"] == 2
        assert levels_by_key(await staged_rows(api, import_id)) == {
            ("tax", "Tax 1"): 1,
            ("tax", "Tax 2"): 1,
            ("media", f"{IMAGES}/1.jpg"): 1,
            ("media", f"{IMAGES}/2.jpg"): 1,
            ("media", f"{IMAGES}/3.jpg"): 1,
            ("product", "PROD-1"): 0,
            ("product", "PROD-2"): 0,
        }

    async def test_products_are_imported_with_their_nested_records(self, api: Api) -> None:
        status = await api.import_records(self.BODY)

        assert status["totals"] == {
            "product": 2,
            "media": 3,
            "category": 0,
            "tax": 2,
            "total": 7,
            "failures": 0,
        }
        first, second = await api.product("PROD-1"), await api.product("PROD-2")
        assert first["tax"]["name"] == "Tax 1"
        assert [m["sourceUrl"] for m in first["media"]] == [
            f"{IMAGES}/1.jpg",
            f"{IMAGES}/2.jpg",
        ]
        assert [m["position"] for m in first["media"]] == [0, 1]
        assert second["tax"]["name"] == "Tax 2"
        assert [m["sourceUrl"] for m in second["media"]] == [f"{IMAGES}/3.jpg"]


class TestCategoriesAssigningProducts:
    async def test_category_and_product_naming_each_other_are_linked_once(self, api: Api) -> None:
        import_id = await api.start(deferReferences=True)
        pushed = await api.push(
            import_id,
            {
                "categories": [{"name": "Sale", "products": [{"productNumber": "SALE-1"}]}],
                "products": [product("SALE-1", categories=[{"path": ["Sale"]}])],
            },
        )
        assert not pushed["containsErrors"]

        status = await api.commit_and_run(import_id)

        assert status["status"] == "done"
        assert status["failures"] == []
        assert status["totals"] == {
            "product": 1,
            "media": 0,
            "category": 1,
            "tax": 1,
            "total": 3,
            "failures": 0,
        }
        sale = await category(api, "Sale")
        assert sale["productCount"] == 1
        assert [c["id"] for c in (await api.product("SALE-1"))["categories"]] == [sale["id"]]

    async def test_product_in_a_subcategory_of_the_category_listing_it(self, api: Api) -> None:
        import_id = await api.start(deferReferences=True)
        await api.push(
            import_id,
            {
                "categories": [
                    {"name": "Sale", "products": [{"productNumber": "SALE-1"}]},
                    {"name": "Shoes", "parent": ["Sale"]},
                ],
                "products": [product("SALE-1", categories=[{"path": ["Sale", "Shoes"]}])],
            },
        )

        status = await api.commit_and_run(import_id)

        assert status["failures"] == []
        assert status["totals"]["total"] == 4
        paths = sorted(c["path"] for c in (await api.product("SALE-1"))["categories"])
        assert paths == [["Sale"], ["Sale", "Shoes"]]

    async def test_category_assigns_products_created_in_the_same_import(self, api: Api) -> None:
        import_id = await api.start()
        await api.push(import_id, {"products": [product("NEW-1"), product("NEW-2")]})
        await api.push(
            import_id,
            {
                "categories": [
                    {"name": "New", "products": [{"productNumber": "NEW-1"}, {"productNumber": "NEW-2"}]}
                ]
            },
        )

        status = await api.commit_and_run(import_id)

        assert status["failures"] == []
        assert status["progress"]["levels"] == 3
        assert (await category(api, "New"))["productCount"] == 2
        for number in ("NEW-1", "NEW-2"):
            assert [c["path"] for c in (await api.product(number))["categories"]] == [["New"]]

    async def test_category_listing_products_pushed_after_it(self, api: Api) -> None:
        import_id = await api.start(deferReferences=True)
        pushed = await api.push(
            import_id, {"categories": [{"name": "Later", "products": [{"productNumber": "LATE-1"}]}]}
        )
        assert codes(pushed["records"][0]["errors"]) == ["REFERENCE_PENDING"]
        await api.push(import_id, {"products": [product("LATE-1")]})

        status = await api.commit_and_run(import_id)

        assert status["failures"] == []
        levels = levels_by_key(await staged_rows(api, import_id))
        assert levels[("category", "Later")] < levels[("product", "LATE-1")]
        assert [c["path"] for c in (await api.product("LATE-1"))["categories"]] == [["Later"]]

    async def test_category_listing_an_existing_product(self, api: Api) -> None:
        await api.import_records({"products": [product("OLD-1")]})

        status = await api.import_records(
            {"categories": [{"name": "Old", "products": [{"productNumber": "OLD-1"}]}]}
        )

        assert status["progress"]["levels"] == 1
        assert status["totals"]["total"] == 1
        assert [c["path"] for c in (await api.product("OLD-1"))["categories"]] == [["Old"]]


class TestCycles:
    async def test_categories_that_are_each_others_parent_fail_alone(self, api: Api) -> None:
        first, second = "018a6b222b5a734d956fb03dda765b01", "018a6b222b5a734d956fb03dda765b02"
        import_id = await api.start(deferReferences=True)
        pushed = await api.push(
            import_id,
            {
                "categories": [
                    {"id": first, "name": "First", "parent": {"id": second}},
                    {"id": second, "name": "Second", "parent": {"id": first}},
                    {"name": "Apart"},
                ],
                "products": [product("APART", categories=[{"path": ["Apart"]}])],
            },
        )
        assert not pushed["containsErrors"]

        status = await api.commit_and_run(import_id)

        assert status["status"] == "done"
        assert [(f["id"], codes(f["details"])) for f in status["failures"]] == [
            (first, ["DEPENDENCY_CYCLE"]),
            (second, ["DEPENDENCY_CYCLE"]),
        ]
        assert status["totals"] == {
            "product": 1,
            "media": 0,
            "category": 1,
            "tax": 1,
            "total": 3,
            "failures": 2,
        }
        assert status["progress"] == {"total": 5, "processed": 5, "level": None, "levels": 2}
        response = await api.get(f"/api/catalog/categories/{first}")
        assert response.status_code == 404
        assert (await api.product("APART"))["categories"][0]["path"] == ["Apart"]
