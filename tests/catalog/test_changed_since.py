"""What an import changed, read from the catalog lists over HTTP (CONTRACT §9.6): ``updatedSince`` on
products, categories and media lists what was updated at or after it in ``(updatedAt, id)`` order, paged
with a cursor of its own (categories and media, whose views do not show ``updatedAt``, are checked in the
database); a product counts as updated when its prices or links change too, and a record
that changes nothing touches nothing."""

import uuid
from typing import Any

import pytest
from sqlalchemy import text

from tests.factories import Api, assert_error, product
from tests.media.servers import LoopbackServer


async def changed(api: Api, path: str, since: str, **params: Any) -> list[dict[str, Any]]:
    """Every entity of the list updated since ``since``, one per page, following the cursor."""
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "updatedSince": since, "limit": 1, **({"cursor": cursor} if cursor else {})}
        response = await api.get(path, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        found += page["items"]
        cursor = page["nextCursor"]
        if cursor is None:
            return found
        assert len(found) < 50, "the cursor never ends"


def in_change_order(items: list[dict[str, Any]]) -> bool:
    return [(i["updatedAt"], i["id"]) for i in items] == sorted((i["updatedAt"], i["id"]) for i in items)


async def listed_in_change_order(api: Api, table: str, ids: list[str]) -> bool:
    """Whether ``ids`` (of ``table``, whose views do not show ``updatedAt``) are in ``(updated_at, id)``
    order."""
    async with api.session_factory() as session:
        rows = await session.execute(
            text(f"SELECT id FROM {table} WHERE id = ANY(:ids) ORDER BY updated_at, id"),  # noqa: S608
            {"ids": [uuid.UUID(i) for i in ids]},
        )
        return [row.id.hex for row in rows] == ids


async def second_import(api: Api, *pushes: tuple[str, dict[str, Any]]) -> str:
    """Push ``(kind, body)`` pairs into a new import, commit it, run it: its ``commitTime``."""
    import_id = await api.start("second")
    for kind, body in pushes:
        result = await api.push(import_id, body, kind=kind)
        assert not result["containsErrors"], result
    status = await api.commit_and_run(import_id)
    assert (status["status"], status["failures"]) == ("done", [])
    since: str = status["commitTime"]
    return since


class TestChangedProducts:
    async def test_what_the_second_import_changed(self, api: Api) -> None:
        await api.import_records({"products": [product(n) for n in ("SAME", "PRICED", "NAMED", "LINKED")]})

        since = await second_import(
            api,
            (
                "record",
                {
                    "categories": [{"name": "New shelf"}],
                    "products": [
                        product("SAME"),
                        product(
                            "PRICED", prices=[{"currency": "EUR", "gross": 99, "net": 80, "linked": True}]
                        ),
                        product("NAMED", name="Renamed"),
                        {"productNumber": "LINKED", "categories": [{"path": ["New shelf"]}]},
                        product("NEW"),
                    ],
                },
            ),
        )

        found = await changed(api, "/api/catalog/products", since)
        assert sorted(p["productNumber"] for p in found) == ["LINKED", "NAMED", "NEW", "PRICED"]
        assert in_change_order(found)
        assert all(p["updatedAt"] >= since for p in found)
        assert (await api.product("SAME"))["updatedAt"] < since

    async def test_an_unassign_and_a_deleted_category_change_the_products(self, api: Api) -> None:
        await api.import_records(
            {
                "categories": [{"name": "Keep"}, {"name": "Gone"}, {"name": "Below", "parent": ["Gone"]}],
                "products": [
                    product("UNLINKED", categories=[{"path": ["Keep"]}]),
                    product("SHELVED", categories=[{"path": ["Gone", "Below"]}]),
                    product("UNTOUCHED", categories=[{"path": ["Keep"]}]),
                ],
            }
        )
        keep = (await api.get("/api/catalog/categories", params={"path": ["Keep"]})).json()["items"][0]

        since = await second_import(
            api,
            ("unassign", {"products": [{"productNumber": "UNLINKED", "categories": [{"id": keep["id"]}]}]}),
            ("delete", {"categories": [{"path": ["Gone"]}]}),
        )

        found = await changed(api, "/api/catalog/products", since)
        assert sorted(p["productNumber"] for p in found) == ["SHELVED", "UNLINKED"]

    async def test_a_category_that_lists_a_product_changes_it(self, api: Api) -> None:
        await api.import_records({"products": [product("LISTED"), product("NOT-LISTED")]})

        since = await second_import(
            api, ("record", {"categories": [{"name": "Picks", "products": [{"productNumber": "LISTED"}]}]})
        )

        found = await changed(api, "/api/catalog/products", since)
        assert [p["productNumber"] for p in found] == ["LISTED"]

    async def test_an_unchanged_import_changes_nothing(self, api: Api) -> None:
        body = {
            "categories": [{"name": "Shelf"}],
            "products": [product("STILL", categories=[{"path": ["Shelf"]}])],
        }
        await api.import_records(body)

        since = await second_import(api, ("record", body))

        assert await changed(api, "/api/catalog/products", since) == []
        assert await changed(api, "/api/catalog/categories", since) == []

    async def test_with_a_product_number(self, api: Api) -> None:
        await api.import_records({"products": [product("ONE"), product("TWO")]})
        since = await second_import(
            api, ("record", {"products": [product("ONE", stock=5), product("TWO", stock=6)]})
        )

        found = await changed(api, "/api/catalog/products", since, productNumber="TWO")

        assert [p["productNumber"] for p in found] == ["TWO"]


class TestChangedCategoriesAndMedia:
    async def test_a_renamed_category_and_its_subtree(self, api: Api) -> None:
        await api.import_records(
            {"categories": [{"name": "Old"}, {"name": "Child", "parent": ["Old"]}, {"name": "Other"}]}
        )
        old = (await api.get("/api/catalog/categories", params={"path": ["Old"]})).json()["items"][0]

        since = await second_import(api, ("record", {"categories": [{"id": old["id"], "name": "Renamed"}]}))

        found = await changed(api, "/api/catalog/categories", since)
        assert sorted(c["path"] for c in found) == [["Renamed"], ["Renamed", "Child"]]
        assert await listed_in_change_order(api, "categories", [c["id"] for c in found])

    async def test_media_whose_fields_changed(self, api: Api) -> None:
        with LoopbackServer() as server:
            first, second = server.image("/first.png"), server.image("/second.png")
            await api.import_records(
                {"media": [{"url": first, "title": "One"}, {"url": second, "title": "Two"}]}
            )

            since = await second_import(
                api, ("record", {"media": [{"url": first, "title": "One"}, {"url": second, "title": "Deux"}]})
            )

        found = await changed(api, "/api/catalog/media", since)
        assert [(m["sourceUrl"], m["title"]) for m in found] == [(second, "Deux")]


class TestRefused:
    @pytest.mark.parametrize("since", ["2026-12-07T10:00:00", "yesterday", "2026-13-01T00:00:00+00:00"])
    @pytest.mark.parametrize(
        "path", ["/api/catalog/products", "/api/catalog/categories", "/api/catalog/media"]
    )
    async def test_a_time_without_its_offset_or_not_a_time(self, api: Api, path: str, since: str) -> None:
        response = await api.get(path, params={"updatedSince": since})

        assert response.status_code == 422, response.text
        assert set(response.json()) <= {"code", "message", "details"}

    async def test_a_cursor_of_the_id_order_does_not_page_the_change_order(self, api: Api) -> None:
        await api.import_records({"products": [product("C1"), product("C2")]})
        by_id = (await api.get("/api/catalog/products", params={"limit": 1})).json()["nextCursor"]

        response = await api.get(
            "/api/catalog/products",
            params={"limit": 1, "cursor": by_id, "updatedSince": "2026-01-01T00:00:00+00:00"},
        )

        assert_error(response, 422, "INVALID_CURSOR")
