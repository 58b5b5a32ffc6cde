"""Failures at commit stay with the record that meets them (and what depends on it): the other records are
written, the import ends ``done``, and status reports each failed root record once."""

import uuid
from typing import Any

from tests.committer.support import (
    all_items,
    categories_at,
    codes,
    failure_at,
    get_ok,
    products_numbered,
    tax_names,
)
from tests.factories import Api, product
from tests.images import IMAGES

# An id of the pushing import's own for a product number a rival import creates first: the record then
# fails at commit with DUPLICATE_PRODUCT_NUMBER (named by its number alone, it would adopt the rival's).
OWN_ID = "018a6b222b5a734d956fb03dda76c1a5"


def detail_codes(failure: dict[str, Any]) -> list[str]:
    return codes(failure["details"])


class TestOneBadRecord:
    async def test_unresolved_category_fails_only_its_product(self, api: Api) -> None:
        import_id = await api.start(deferReferences=True)
        await api.push(import_id, {"categories": [{"name": "Real"}]})
        pushed = await api.push(
            import_id,
            {
                "products": [
                    product("GOOD-1", categories=[{"path": ["Real"]}]),
                    product("BAD-1", categories=[{"path": ["Real"]}, {"path": ["Never", "There"]}]),
                    product("GOOD-2"),
                ]
            },
        )
        assert not pushed["containsErrors"]
        bad_id = pushed["records"][1]["id"]

        status = await api.commit_and_run(import_id)

        assert status["status"] == "done"
        assert status["totals"] == {
            "product": 2,
            "media": 0,
            "category": 1,
            "tax": 1,
            "total": 4,
            "failures": 1,
        }
        assert status["failuresTruncated"] is False
        assert status["failures"] == [
            {
                "entity": "product",
                "id": bad_id,
                "path": "products.1",
                "batch": 2,
                "details": [
                    {
                        "severity": "error",
                        "severityCode": 3,
                        "code": "CATEGORY_NOT_FOUND",
                        "entity": "product",
                        "path": "products.1.categories.1",
                        "message": "Category Never/There not found",
                    }
                ],
            }
        ]
        assert await products_numbered(api, "BAD-1") == []
        assert [c["path"] for c in (await api.product("GOOD-1"))["categories"]] == [["Real"]]
        assert (await api.product("GOOD-2"))["name"] == "Product GOOD-2"

    async def test_failures_endpoint_lists_the_same_failure(self, api: Api) -> None:
        import_id = await api.start(deferReferences=True)
        await api.push(import_id, {"products": [product("BAD-1", categories=[{"path": ["Nowhere"]}])]})
        status = await api.commit_and_run(import_id)

        listed = await get_ok(api, f"/api/import/{import_id}/failures")

        assert listed == {"items": status["failures"], "nextCursor": None}
        assert detail_codes(listed["items"][0]) == ["CATEGORY_NOT_FOUND"]

    async def test_failed_category_parent_reported_at_its_path(self, api: Api) -> None:
        import_id = await api.start(deferReferences=True)
        pushed = await api.push(
            import_id, {"categories": [{"name": "Fine"}, {"name": "Orphan", "parent": ["Missing"]}]}
        )

        status = await api.commit_and_run(import_id)

        failure = failure_at(status, "categories.1")
        assert failure["entity"] == "category"
        assert failure["id"] == pushed["records"][1]["id"]
        assert [(d["code"], d["path"]) for d in failure["details"]] == [
            ("CATEGORY_NOT_FOUND", "categories.1.parent")
        ]
        assert status["totals"]["category"] == 1
        assert await categories_at(api, "Orphan") == []
        assert await categories_at(api, "Missing", "Orphan") == []

    async def test_failed_update_leaves_the_product_as_it_was(self, api: Api) -> None:
        await api.import_records({"products": [product("KEEP", stock=1)]})
        before = await api.product("KEEP")
        import_id = await api.start(deferReferences=True)
        await api.push(
            import_id,
            {
                "products": [
                    {"productNumber": "KEEP", "stock": 5, "name": "Renamed", "categories": [{"path": ["No"]}]}
                ]
            },
        )

        status = await api.commit_and_run(import_id)

        assert detail_codes(failure_at(status, "products.0")) == ["CATEGORY_NOT_FOUND"]
        assert await api.product("KEEP") == before


class TestDuplicateProductNumberAtCommit:
    async def test_first_committed_import_wins_over_a_record_with_an_id_of_its_own(self, api: Api) -> None:
        first = await api.start("first")
        second = await api.start("second")
        first_push = await api.push(first, {"products": [product("DUP-1", name="First")]})
        second_push = await api.push(
            second,
            {
                "products": [
                    product(
                        "DUP-1",
                        id=uuid.uuid4().hex,
                        name="Second",
                        tax={"name": "Second tax", "taxRate": 7},
                    )
                ]
            },
        )
        # Each import only sees its own staged records: both are creates with different ids.
        assert first_push["records"][0]["action"] == second_push["records"][0]["action"] == "create"
        assert first_push["records"][0]["id"] != second_push["records"][0]["id"]

        first_status = await api.commit_and_run(first)
        second_status = await api.commit_and_run(second)

        assert first_status["failures"] == []
        assert second_status["status"] == "done"
        assert second_status["totals"] == {
            "product": 0,
            "media": 0,
            "category": 0,
            "tax": 0,
            "total": 0,
            "failures": 1,
        }
        failure = failure_at(second_status, "products.0")
        assert failure["id"] == second_push["records"][0]["id"]
        assert failure["details"][0]["code"] == "DUPLICATE_PRODUCT_NUMBER"
        assert failure["details"][0]["severity"] == "error"
        survivor = await api.product("DUP-1")
        assert survivor["id"] == first_push["records"][0]["id"]
        assert survivor["name"] == "First"
        # The tax created only for the refused product is gone again.
        assert await tax_names(api) == ["Standard rate"]

    async def test_a_record_named_by_its_number_alone_adopts_the_product_created_meanwhile(
        self, api: Api
    ) -> None:
        first = await api.start("first")
        second = await api.start("second")
        first_push = await api.push(first, {"products": [product("DUP-2", name="First")]})
        await api.push(second, {"products": [product("DUP-2", name="Second")]})

        await api.commit_and_run(first)
        second_status = await api.commit_and_run(second)

        assert (second_status["failures"], second_status["totals"]["product"]) == ([], 1)
        adopted = await api.product("DUP-2")
        assert (adopted["id"], adopted["name"]) == (first_push["records"][0]["id"], "Second")

    async def test_duplicate_within_later_batch_does_not_stop_the_others(self, api: Api) -> None:
        await api.import_records({"products": [product("TAKEN")]})
        first = await api.start("first")
        second = await api.start("second")
        await api.push(second, {"products": [product("RACE", id=uuid.uuid4().hex)]})
        await api.push(first, {"products": [product("RACE")]})
        await api.push(second, {"products": [product("OK-1"), product("OK-2")]})
        await api.commit_and_run(first)

        status = await api.commit_and_run(second)

        assert status["status"] == "done"
        assert status["totals"]["product"] == 2
        assert [(f["path"], f["batch"]) for f in status["failures"]] == [("products.0", 1)]
        assert len(await products_numbered(api, "RACE")) == 1


class TestDependencyFailed:
    async def test_records_below_a_failed_category_fail_with_dependency_failed(self, api: Api) -> None:
        import_id = await api.start(deferReferences=True)
        pushed = await api.push(
            import_id,
            {
                "categories": [
                    {"name": "Lost", "parent": ["Missing"]},
                    {"name": "Child", "parent": ["Missing", "Lost"]},
                    {"name": "Unrelated"},
                ],
                "products": [
                    product("IN-CHILD", categories=[{"path": ["Missing", "Lost", "Child"]}]),
                    product("ELSEWHERE", categories=[{"path": ["Unrelated"]}]),
                ],
            },
        )
        assert not pushed["containsErrors"]

        status = await api.commit_and_run(import_id)

        assert status["status"] == "done"
        assert status["totals"] == {
            "product": 1,
            "media": 0,
            "category": 1,
            "tax": 1,
            "total": 3,
            "failures": 3,
        }
        lost = failure_at(status, "categories.0")
        assert detail_codes(lost) == ["CATEGORY_NOT_FOUND"]
        child = failure_at(status, "categories.1")
        assert child["id"] == pushed["records"][1]["id"]
        assert detail_codes(child) == ["DEPENDENCY_FAILED"]
        assert child["details"][0]["path"] == "categories.1.parent"
        assert child["details"][0]["severityCode"] == 3
        in_child = failure_at(status, "products.0")
        assert detail_codes(in_child) == ["DEPENDENCY_FAILED"]
        assert in_child["details"][0]["path"] == "products.0.categories.0"
        assert await products_numbered(api, "IN-CHILD") == []
        assert [c["path"] for c in (await api.product("ELSEWHERE"))["categories"]] == [["Unrelated"]]

    async def test_product_of_a_failed_tax_fails_with_dependency_failed(self, api: Api) -> None:
        import_id = await api.start(deferReferences=True)
        await api.push(import_id, {"categories": [{"name": "Home", "parent": ["Absent"]}]})
        await api.push(
            import_id,
            {
                "products": [
                    product("USES-HOME", categories=[{"path": ["Absent", "Home"]}]),
                    product("FINE"),
                ]
            },
        )

        status = await api.commit_and_run(import_id)

        assert [(f["entity"], f["batch"], detail_codes(f)) for f in status["failures"]] == [
            ("category", 1, ["CATEGORY_NOT_FOUND"]),
            ("product", 2, ["DEPENDENCY_FAILED"]),
        ]
        assert status["totals"]["product"] == 1
        assert status["totals"]["failures"] == 2

    async def test_category_listing_a_product_that_failed(self, api: Api) -> None:
        await api.import_records({"taxes": [{"name": "Standard rate", "taxRate": 19}]})
        rival = await api.start("rival")
        await api.push(rival, {"products": [product("CLASH")]})
        import_id = await api.start()
        await api.push(import_id, {"products": [product("CLASH", id=OWN_ID), product("FINE")]})
        pushed = await api.push(
            import_id,
            {
                "categories": [
                    {"name": "Picks", "products": [{"productNumber": "FINE"}, {"productNumber": "CLASH"}]}
                ]
            },
        )
        await api.commit_and_run(rival)

        status = await api.commit_and_run(import_id)

        assert [(f["entity"], f["path"], f["batch"]) for f in status["failures"]] == [
            ("product", "products.0", 1),
            ("category", "categories.0", 2),
        ]
        picks = failure_at(status, "categories.0")
        assert picks["id"] == pushed["records"][0]["id"]
        assert [(d["code"], d["path"]) for d in picks["details"]] == [
            ("DEPENDENCY_FAILED", "categories.0.products.1")
        ]
        assert await categories_at(api, "Picks") == []
        assert (await api.product("FINE"))["categories"] == []


class TestUndoOfNestedCreations:
    async def test_nested_tax_of_a_failed_product_is_removed(self, api: Api) -> None:
        await api.import_records({"products": [product("TAKEN")]})
        import_id = await api.start()
        # Staged in another import first, so that this one only learns of the clash at commit.
        rival = await api.start("rival")
        await api.push(rival, {"products": [product("CLASH")]})
        await api.push(
            import_id,
            {"products": [product("CLASH", id=OWN_ID, tax={"name": "Only for the clash", "taxRate": 3})]},
        )
        await api.commit_and_run(rival)

        status = await api.commit_and_run(import_id)

        assert detail_codes(failure_at(status, "products.0")) == ["DUPLICATE_PRODUCT_NUMBER"]
        assert "Only for the clash" not in await tax_names(api)
        assert status["totals"]["tax"] == 0
        assert status["progress"]["processed"] == status["progress"]["total"] == 2

    async def test_nested_tax_shared_with_a_written_product_stays(self, api: Api) -> None:
        rival = await api.start("rival")
        await api.push(rival, {"products": [product("CLASH")]})
        import_id = await api.start()
        await api.push(
            import_id,
            {
                "products": [
                    product("CLASH", id=OWN_ID, tax={"name": "Shared", "taxRate": 3}),
                    product("KEEPER", tax={"name": "Shared"}),
                ]
            },
        )
        await api.commit_and_run(rival)

        status = await api.commit_and_run(import_id)

        assert detail_codes(failure_at(status, "products.0")) == ["DUPLICATE_PRODUCT_NUMBER"]
        assert (await api.product("KEEPER"))["tax"]["name"] == "Shared"
        assert status["totals"] == {
            "product": 1,
            "media": 0,
            "category": 0,
            "tax": 1,
            "total": 2,
            "failures": 1,
        }

    async def test_nested_media_of_a_failed_product_are_removed(self, api: Api) -> None:
        rival = await api.start("rival")
        await api.push(rival, {"products": [product("CLASH")]})
        import_id = await api.start()
        await api.push(
            import_id,
            {"products": [product("CLASH", id=OWN_ID, media=[{"url": f"{IMAGES}/clash.jpg"}])]},
        )
        await api.commit_and_run(rival)

        status = await api.commit_and_run(import_id)

        assert status["totals"]["media"] == 0
        assert await get_ok(api, "/api/catalog/media", url=f"{IMAGES}/clash.jpg") == {
            "items": [],
            "nextCursor": None,
        }

    async def test_nested_tax_of_a_product_failing_on_a_pending_reference_is_not_kept(self, api: Api) -> None:
        import_id = await api.start(deferReferences=True)
        await api.push(
            import_id,
            {
                "products": [
                    product(
                        "LOST", tax={"name": "Lost tax", "taxRate": 4}, categories=[{"path": ["Nowhere"]}]
                    )
                ]
            },
        )

        status = await api.commit_and_run(import_id)

        assert detail_codes(failure_at(status, "products.0")) == ["CATEGORY_NOT_FOUND"]
        assert await tax_names(api) == []
        assert status["totals"] == {
            "product": 0,
            "media": 0,
            "category": 0,
            "tax": 0,
            "total": 0,
            "failures": 1,
        }

    async def test_nested_tax_of_a_product_failing_on_a_pending_reference_stays_when_shared(
        self, api: Api
    ) -> None:
        import_id = await api.start(deferReferences=True)
        await api.push(
            import_id,
            {
                "products": [
                    product(
                        "LOST", tax={"name": "Kept tax", "taxRate": 4}, categories=[{"path": ["Nowhere"]}]
                    ),
                    product("FOUND", tax={"name": "Kept tax"}),
                ]
            },
        )

        status = await api.commit_and_run(import_id)

        assert (await api.product("FOUND"))["tax"]["name"] == "Kept tax"
        assert status["totals"] == {
            "product": 1,
            "media": 0,
            "category": 0,
            "tax": 1,
            "total": 2,
            "failures": 1,
        }

    async def test_nested_tax_goes_when_every_product_using_it_failed(self, api: Api) -> None:
        rival = await api.start("rival")
        await api.push(rival, {"products": [product("CLASH-1"), product("CLASH-2")]})
        import_id = await api.start()
        await api.push(
            import_id,
            {
                "products": [
                    product("CLASH-1", id=uuid.uuid4().hex, tax={"name": "Doomed", "taxRate": 3}),
                    product("CLASH-2", id=uuid.uuid4().hex, tax={"name": "Doomed"}),
                ]
            },
        )
        await api.commit_and_run(rival)
        await api.commit(import_id)

        # One record per batch: the products fail one after the other.
        status = await api.run(import_id, batch_size=1)

        assert status["totals"]["failures"] == 2
        assert status["totals"]["tax"] == 0
        assert "Doomed" not in await tax_names(api)


class TestNestedFailed:
    async def test_failed_nested_tax_fails_its_product_and_undoes_its_media(self, api: Api) -> None:
        import_id = await api.start()
        pushed = await api.push(
            import_id,
            {
                "products": [
                    product(
                        "NESTED",
                        tax={"id": "018a6b222b5a734d956fb03dda765bf8", "name": "Raced", "taxRate": 5},
                        media=[{"url": f"{IMAGES}/nested.jpg"}],
                    ),
                    product("PLAIN", tax={"name": "Plain", "taxRate": 10}),
                ]
            },
        )
        # Another import takes both the nested tax's id (under another name) and its name first: the
        # nested creation can neither be created nor adopt the tax of that name.
        await api.import_records(
            {
                "taxes": [
                    {"id": "018a6b222b5a734d956fb03dda765bf8", "name": "Other", "taxRate": 1},
                    {"name": "Raced", "taxRate": 5},
                ]
            }
        )

        status = await api.commit_and_run(import_id)

        assert status["status"] == "done"
        failure = failure_at(status, "products.0")
        assert failure["entity"] == "product"
        assert failure["id"] == pushed["records"][0]["id"]
        assert [(d["code"], d["entity"], d["path"], d["severity"]) for d in failure["details"]] == [
            ("DUPLICATE_TAX_NAME", "tax", "products.0.tax", "error"),
            ("NESTED_FAILED", "product", "products.0", "error"),
        ]
        assert await products_numbered(api, "NESTED") == []
        assert await get_ok(api, "/api/catalog/media", url=f"{IMAGES}/nested.jpg") == {
            "items": [],
            "nextCursor": None,
        }
        assert (await api.product("PLAIN"))["tax"]["name"] == "Plain"
        assert status["totals"] == {
            "product": 1,
            "media": 0,
            "category": 0,
            "tax": 1,
            "total": 2,
            "failures": 1,
        }
        assert status["progress"]["processed"] == status["progress"]["total"] == 5


class TestManyFailures:
    async def test_status_carries_the_first_hundred_and_failures_pages_through_all(self, api: Api) -> None:
        import_id = await api.start(deferReferences=True)
        bad = [product(f"BAD-{n:03}", categories=[{"path": ["Nowhere", str(n)]}]) for n in range(105)]
        await api.push(import_id, {"products": [*bad[:60], product("GOOD")]})
        await api.push(import_id, {"products": bad[60:]})

        status = await api.commit_and_run(import_id)

        assert status["status"] == "done"
        assert status["totals"]["failures"] == 105
        assert status["totals"]["product"] == 1
        assert len(status["failures"]) == 100
        assert status["failuresTruncated"] is True
        listed = await all_items(api, f"/api/import/{import_id}/failures", limit=30)
        assert len(listed) == 105
        assert listed[:100] == status["failures"]
        assert sorted((f["batch"], f["path"]) for f in listed) == sorted(
            [(1, f"products.{n}") for n in range(60)] + [(2, f"products.{n}") for n in range(45)]
        )
        assert {f["details"][0]["code"] for f in listed} == {"CATEGORY_NOT_FOUND"}

    async def test_exactly_one_hundred_failures_are_not_truncated(self, api: Api) -> None:
        import_id = await api.start(deferReferences=True)
        await api.push(
            import_id,
            {"products": [product(f"BAD-{n:03}", categories=[{"path": ["Nowhere"]}]) for n in range(100)]},
        )

        status = await api.commit_and_run(import_id)

        assert len(status["failures"]) == 100
        assert status["failuresTruncated"] is False
