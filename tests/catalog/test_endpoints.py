"""Catalog reads (CONTRACT §7): products, categories, media and taxes as an import left them."""

import re
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.factories import Api, assert_error, product

HEX_ID = re.compile(r"^[0-9a-f]{32}$")

PRODUCT_FIELDS = {
    "id", "productNumber", "name", "description", "active", "stock", "parentId", "customFields", "tax",
    "prices", "categories", "media", "properties", "options", "variantIds", "extensions", "createdAt",
    "updatedAt",
}  # fmt: skip
MEDIA_FIELDS = {"id", "url", "sourceUrl", "title", "alt", "filename", "mimeType", "size", "sha256"}
CATEGORY_FIELDS = {"id", "name", "parentId", "path", "active", "productCount"}

# A 1x1 transparent PNG, served to whatever fetches the media URLs of these tests.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


class ImageHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(PNG)))
        self.end_headers()
        self.wfile.write(PNG)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def images() -> Iterator[str]:
    """Base URL of a loopback server answering every path with a PNG."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), ImageHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


async def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


async def all_pages(api: Api, path: str, limit: int, **params: Any) -> list[dict[str, Any]]:
    """Follow nextCursor to the end; every page but the last is full."""
    pages: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        page = await ok(await api.get(path, params=query))
        assert set(page) == {"items", "nextCursor"}
        pages.append(page)
        cursor = page["nextCursor"]
        if cursor is None:
            return pages
        assert len(page["items"]) == limit
        assert len(pages) < 100, "the cursor never ends"


def assert_utc_timestamp(value: str) -> datetime:
    assert value.endswith("+00:00"), value
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() == timedelta(0)
    return parsed


def id_forms(hex_id: str) -> dict[str, str]:
    return {"hex": hex_id, "dashed": str(uuid.UUID(hex_id)), "uppercase-hex": hex_id.upper()}


def shoe(images: str, **fields: Any) -> dict[str, Any]:
    """A product with a description, two prices, two categories and two media."""
    return product(
        "SHOE-1",
        name="Trail shoe",
        description="Waterproof",
        active=False,
        stock=12,
        customFields={"color": "red", "sizes": [40, 41]},
        tax={"name": "Reduced rate", "taxRate": 7},
        prices=[
            {"currency": "USD", "gross": 13.5, "net": 12.62, "linked": False},
            {"currency": "EUR", "gross": 11.9, "net": 10, "linked": True},
        ],
        categories=[{"path": ["Home", "Shoes"]}, {"path": ["Home"]}],
        media=[
            {
                "url": f"{images}/front.png",
                "title": "Front",
                "alt": "Seen from the front",
                "filename": "f.png",
            },
            {"url": f"{images}/back.png", "title": "Back"},
        ],
        **fields,
    )


CATEGORIES = [
    {"name": "Home"},
    {"name": "Shoes", "parent": ["Home"]},
    {"name": "Boots", "parent": ["Home", "Shoes"]},
]


async def import_shoes(api: Api, images: str) -> dict[str, Any]:
    """SHOE-1 (see ``shoe``) and SHOE-2 in Home/Shoes; Boots under it stays empty. Returns SHOE-1."""
    status = await api.import_records(
        {
            "categories": CATEGORIES,
            "products": [shoe(images), product("SHOE-2", categories=[{"path": ["Home", "Shoes"]}])],
        }
    )
    assert status["totals"]["failures"] == 0, status
    return await api.product("SHOE-1")


async def category_at(api: Api, *path: str) -> dict[str, Any]:
    page = await ok(await api.get("/api/catalog/categories", params={"path": list(path)}))
    assert len(page["items"]) == 1, page
    found: dict[str, Any] = page["items"][0]
    return found


class TestGetProduct:
    async def test_answers_exactly_the_contract_fields(self, api: Api, images: str) -> None:
        shoe_id = (await import_shoes(api, images))["id"]

        found = await ok(await api.get(f"/api/catalog/products/{shoe_id}"))

        assert set(found) == PRODUCT_FIELDS

    async def test_answers_the_imported_values(self, api: Api, images: str) -> None:
        shoe_id = (await import_shoes(api, images))["id"]

        found = await ok(await api.get(f"/api/catalog/products/{shoe_id}"))

        assert HEX_ID.match(found["id"])
        assert found["productNumber"] == "SHOE-1"
        assert found["name"] == "Trail shoe"
        assert found["description"] == "Waterproof"
        assert found["active"] is False
        assert found["stock"] == 12
        assert found["parentId"] is None
        assert found["customFields"] == {"color": "red", "sizes": [40, 41]}
        assert found["variantIds"] == []

    async def test_collections_of_a_plain_product_are_empty(self, api: Api) -> None:
        await api.import_records({"products": [product("PLAIN-1")]})

        found = await api.product("PLAIN-1")

        assert found["description"] is None
        assert found["active"] is True
        assert found["stock"] == 0
        assert found["customFields"] is None
        assert found["categories"] == []
        assert found["media"] == []
        assert found["properties"] == []
        assert found["options"] == []
        assert found["variantIds"] == []
        assert found["extensions"] == {}

    async def test_tax_is_embedded(self, api: Api, images: str) -> None:
        found = await import_shoes(api, images)

        assert set(found["tax"]) == {"id", "name", "taxRate"}
        assert HEX_ID.match(found["tax"]["id"])
        assert found["tax"]["name"] == "Reduced rate"
        assert found["tax"]["taxRate"] == 7

    async def test_tax_matches_the_tax_list(self, api: Api, images: str) -> None:
        found = await import_shoes(api, images)

        taxes = (await ok(await api.get("/api/catalog/taxes")))["items"]

        assert found["tax"] in taxes

    async def test_prices_are_numbers_per_currency(self, api: Api, images: str) -> None:
        found = await import_shoes(api, images)

        assert sorted(found["prices"], key=lambda price: price["currency"]) == [
            {"currency": "EUR", "gross": 11.9, "net": 10, "linked": True},
            {"currency": "USD", "gross": 13.5, "net": 12.62, "linked": False},
        ]

    async def test_categories_carry_id_name_and_path(self, api: Api, images: str) -> None:
        found = await import_shoes(api, images)
        home = await category_at(api, "Home")
        shoes = await category_at(api, "Home", "Shoes")

        assert sorted(found["categories"], key=lambda category: category["path"]) == [
            {"id": home["id"], "name": "Home", "path": ["Home"]},
            {"id": shoes["id"], "name": "Shoes", "path": ["Home", "Shoes"]},
        ]

    async def test_media_carry_the_contract_fields(self, api: Api, images: str) -> None:
        found = await import_shoes(api, images)

        assert [set(item) for item in found["media"]] == [MEDIA_FIELDS | {"position"}] * 2
        front = found["media"][0]
        assert HEX_ID.match(front["id"])
        assert front["sourceUrl"] == f"{images}/front.png"
        assert front["title"] == "Front"
        assert front["alt"] == "Seen from the front"
        assert front["filename"] == "f.png"
        assert front["position"] == 0

    async def test_media_are_in_the_order_they_were_given(self, api: Api, images: str) -> None:
        found = await import_shoes(api, images)

        assert [(item["title"], item["position"]) for item in found["media"]] == [("Front", 0), ("Back", 1)]

    async def test_media_are_ordered_by_position_not_by_id(self, api: Api, images: str) -> None:
        low, middle, high = sorted(uuid.uuid4().hex for _ in range(3))
        await api.import_records(
            {
                "media": [
                    {"id": low, "url": f"{images}/low.png", "title": "low"},
                    {"id": middle, "url": f"{images}/middle.png", "title": "middle"},
                    {"id": high, "url": f"{images}/high.png", "title": "high"},
                ],
                "products": [product("ORDERED-1", media=[{"id": high}, {"id": low}, {"id": middle}])],
            }
        )

        found = await api.product("ORDERED-1")

        assert [item["id"] for item in found["media"]] == [high, low, middle]
        assert [item["position"] for item in found["media"]] == [0, 1, 2]

    async def test_media_follow_a_new_order_after_a_reimport(self, api: Api, images: str) -> None:
        await import_shoes(api, images)
        urls = [{"url": f"{images}/back.png"}, {"url": f"{images}/front.png"}]

        await api.import_records({"products": [{"productNumber": "SHOE-1", "media": urls}]})

        found = await api.product("SHOE-1")
        assert [(item["title"], item["position"]) for item in found["media"]] == [("Back", 0), ("Front", 1)]

    async def test_timestamps_have_a_utc_offset(self, api: Api, images: str) -> None:
        found = await import_shoes(api, images)

        created = assert_utc_timestamp(found["createdAt"])
        updated = assert_utc_timestamp(found["updatedAt"])
        assert created <= updated

    async def test_ids_in_the_answer_are_lowercase_hex(self, api: Api, images: str) -> None:
        found = await import_shoes(api, images)

        ids = [
            found["id"],
            found["tax"]["id"],
            *(item["id"] for item in found["categories"]),
            *(item["id"] for item in found["media"]),
        ]
        assert all(HEX_ID.match(value) for value in ids), ids

    @pytest.mark.parametrize("form", ["hex", "dashed", "uppercase-hex"])
    async def test_accepts_every_id_form(self, api: Api, images: str, form: str) -> None:
        shoe_id = (await import_shoes(api, images))["id"]

        found = await ok(await api.get(f"/api/catalog/products/{id_forms(shoe_id)[form]}"))

        assert found["id"] == shoe_id

    async def test_given_id_is_kept(self, api: Api) -> None:
        given = uuid.uuid4()

        await api.import_records({"products": [product("GIVEN-1", id=str(given))]})

        found = await ok(await api.get(f"/api/catalog/products/{given}"))
        assert found["id"] == given.hex

    async def test_answers_the_same_as_the_list(self, api: Api, images: str) -> None:
        listed = await import_shoes(api, images)

        found = await ok(await api.get(f"/api/catalog/products/{listed['id']}"))

        assert found == listed

    async def test_unknown_id_is_not_found(self, api: Api) -> None:
        response = await api.get(f"/api/catalog/products/{uuid.uuid4().hex}")

        assert_error(response, 404, "PRODUCT_NOT_FOUND")

    async def test_id_of_another_entity_is_not_found(self, api: Api, images: str) -> None:
        found = await import_shoes(api, images)

        response = await api.get(f"/api/catalog/products/{found['tax']['id']}")

        assert_error(response, 404, "PRODUCT_NOT_FOUND")

    async def test_malformed_id_is_rejected(self, api: Api) -> None:
        response = await api.get("/api/catalog/products/not-an-id")

        assert_error(response, 422, "INVALID_REQUEST")

    async def test_catalog_is_shared_between_integrations(
        self, api: Api, other_api: Api, images: str
    ) -> None:
        found = await import_shoes(api, images)

        seen = await ok(await other_api.get(f"/api/catalog/products/{found['id']}"))

        assert seen == found


class TestListProducts:
    async def test_filters_by_product_number(self, api: Api) -> None:
        await api.import_records({"products": [product(f"LIST-{n}") for n in range(3)]})

        page = await ok(await api.get("/api/catalog/products", params={"productNumber": "LIST-1"}))

        assert [item["productNumber"] for item in page["items"]] == ["LIST-1"]
        assert page["nextCursor"] is None

    async def test_unknown_product_number_gives_an_empty_page(self, api: Api) -> None:
        await api.import_records({"products": [product("LIST-1")]})

        page = await ok(await api.get("/api/catalog/products", params={"productNumber": "LIST-9"}))

        assert page == {"items": [], "nextCursor": None}

    async def test_product_number_is_matched_exactly(self, api: Api) -> None:
        await api.import_records({"products": [product("LIST-1"), product("LIST-10")]})

        page = await ok(await api.get("/api/catalog/products", params={"productNumber": "LIST-1"}))

        assert [item["productNumber"] for item in page["items"]] == ["LIST-1"]

    async def test_items_have_the_product_fields(self, api: Api) -> None:
        await api.import_records({"products": [product("LIST-1")]})

        page = await ok(await api.get("/api/catalog/products"))

        assert [set(item) for item in page["items"]] == [PRODUCT_FIELDS]

    async def test_empty_catalog_gives_an_empty_page(self, api: Api) -> None:
        page = await ok(await api.get("/api/catalog/products"))

        assert page == {"items": [], "nextCursor": None}

    async def test_pages_through_every_product_once(self, api: Api) -> None:
        await api.import_records({"products": [product(f"PAGE-{n}") for n in range(5)]})

        pages = await all_pages(api, "/api/catalog/products", limit=2)

        numbers = [item["productNumber"] for page in pages for item in page["items"]]
        assert [len(page["items"]) for page in pages] == [2, 2, 1]
        assert sorted(numbers) == [f"PAGE-{n}" for n in range(5)]
        assert len(set(numbers)) == len(numbers)

    async def test_last_full_page_has_no_cursor(self, api: Api) -> None:
        await api.import_records({"products": [product(f"PAGE-{n}") for n in range(4)]})

        pages = await all_pages(api, "/api/catalog/products", limit=2)

        assert [len(page["items"]) for page in pages] == [2, 2]
        assert pages[-1]["nextCursor"] is None

    async def test_page_of_everything_has_no_cursor(self, api: Api) -> None:
        await api.import_records({"products": [product(f"PAGE-{n}") for n in range(3)]})

        page = await ok(await api.get("/api/catalog/products", params={"limit": 3}))

        assert len(page["items"]) == 3
        assert page["nextCursor"] is None

    async def test_default_page_holds_more_than_a_handful(self, api: Api) -> None:
        await api.import_records({"products": [product(f"PAGE-{n}") for n in range(12)]})

        page = await ok(await api.get("/api/catalog/products"))

        assert len(page["items"]) == 12
        assert page["nextCursor"] is None

    async def test_cursor_with_filter_stays_filtered(self, api: Api) -> None:
        await api.import_records({"products": [product(f"PAGE-{n}") for n in range(3)]})

        pages = await all_pages(api, "/api/catalog/products", limit=1, productNumber="PAGE-2")

        assert [item["productNumber"] for page in pages for item in page["items"]] == ["PAGE-2"]

    @pytest.mark.parametrize("limit", [0, -1, 501, "many"])
    async def test_invalid_limit_is_rejected(self, api: Api, limit: object) -> None:
        response = await api.get("/api/catalog/products", params={"limit": limit})

        body = assert_error(response, 422, "INVALID_REQUEST")
        assert [detail["path"] for detail in body["details"]] == ["limit"]

    @pytest.mark.parametrize(
        "cursor",
        ["not-a-cursor", "!!!", "W10", "WyJ6enoiXQ", "WzVd", "W251bGxd"],
        ids=["garbage", "not-base64", "empty-key", "key-not-an-id", "key-a-number", "key-null"],
    )
    async def test_invalid_cursor_is_rejected(self, api: Api, cursor: str) -> None:
        response = await api.get("/api/catalog/products", params={"cursor": cursor})

        assert_error(response, 422, "INVALID_CURSOR")


class TestCategories:
    async def test_get_answers_exactly_the_contract_fields(self, api: Api, images: str) -> None:
        await import_shoes(api, images)
        shoes = await category_at(api, "Home", "Shoes")

        found = await ok(await api.get(f"/api/catalog/categories/{shoes['id']}"))

        assert set(found) == CATEGORY_FIELDS

    async def test_get_answers_a_child_category(self, api: Api, images: str) -> None:
        await import_shoes(api, images)
        home = await category_at(api, "Home")
        shoes = await category_at(api, "Home", "Shoes")

        found = await ok(await api.get(f"/api/catalog/categories/{shoes['id']}"))

        assert found == {
            "id": shoes["id"],
            "name": "Shoes",
            "parentId": home["id"],
            "path": ["Home", "Shoes"],
            "active": True,
            "productCount": 2,
        }

    async def test_get_answers_a_root_category(self, api: Api, images: str) -> None:
        await import_shoes(api, images)
        home = await category_at(api, "Home")

        found = await ok(await api.get(f"/api/catalog/categories/{home['id']}"))

        assert HEX_ID.match(found["id"])
        assert found["parentId"] is None
        assert found["path"] == ["Home"]

    async def test_category_without_products_counts_zero(self, api: Api, images: str) -> None:
        await import_shoes(api, images)

        boots = await category_at(api, "Home", "Shoes", "Boots")

        assert boots["productCount"] == 0

    async def test_inactive_category_is_answered_inactive(self, api: Api) -> None:
        await api.import_records({"categories": [{"name": "Hidden", "active": False}]})

        hidden = await category_at(api, "Hidden")

        assert hidden["active"] is False

    @pytest.mark.parametrize("form", ["hex", "dashed", "uppercase-hex"])
    async def test_get_accepts_every_id_form(self, api: Api, images: str, form: str) -> None:
        await import_shoes(api, images)
        shoes = await category_at(api, "Home", "Shoes")

        found = await ok(await api.get(f"/api/catalog/categories/{id_forms(shoes['id'])[form]}"))

        assert found == shoes

    async def test_get_unknown_id_is_not_found(self, api: Api) -> None:
        response = await api.get(f"/api/catalog/categories/{uuid.uuid4().hex}")

        assert_error(response, 404, "CATEGORY_NOT_FOUND")

    async def test_get_malformed_id_is_rejected(self, api: Api) -> None:
        response = await api.get("/api/catalog/categories/Home")

        assert_error(response, 422, "INVALID_REQUEST")

    async def test_path_finds_the_category_at_that_path(self, api: Api, images: str) -> None:
        await import_shoes(api, images)

        page = await ok(await api.get("/api/catalog/categories?path=Home&path=Shoes"))

        assert [(item["name"], item["path"], item["productCount"]) for item in page["items"]] == [
            ("Shoes", ["Home", "Shoes"], 2)
        ]
        assert page["nextCursor"] is None

    async def test_path_of_a_root_finds_only_the_root(self, api: Api, images: str) -> None:
        await import_shoes(api, images)

        page = await ok(await api.get("/api/catalog/categories", params={"path": "Home"}))

        assert [item["path"] for item in page["items"]] == [["Home"]]

    async def test_path_is_matched_from_the_root(self, api: Api, images: str) -> None:
        await import_shoes(api, images)

        page = await ok(await api.get("/api/catalog/categories", params={"path": "Shoes"}))

        assert page == {"items": [], "nextCursor": None}

    async def test_unknown_path_gives_an_empty_page(self, api: Api, images: str) -> None:
        await import_shoes(api, images)

        page = await ok(await api.get("/api/catalog/categories", params={"path": ["Home", "Hats"]}))

        assert page == {"items": [], "nextCursor": None}

    async def test_same_name_under_two_parents_is_told_apart_by_path(self, api: Api) -> None:
        await api.import_records(
            {
                "categories": [
                    {"name": "Men"},
                    {"name": "Women"},
                    {"name": "Shoes", "parent": ["Men"]},
                    {"name": "Shoes", "parent": ["Women"]},
                ]
            }
        )
        men = await category_at(api, "Men")

        shoes = await category_at(api, "Men", "Shoes")

        assert shoes["parentId"] == men["id"]

    async def test_pages_through_every_category_once(self, api: Api, images: str) -> None:
        await import_shoes(api, images)

        pages = await all_pages(api, "/api/catalog/categories", limit=2)

        paths = [tuple(item["path"]) for page in pages for item in page["items"]]
        assert [len(page["items"]) for page in pages] == [2, 1]
        assert sorted(paths) == [("Home",), ("Home", "Shoes"), ("Home", "Shoes", "Boots")]

    async def test_product_count_follows_later_assignments(self, api: Api, images: str) -> None:
        await import_shoes(api, images)

        await api.import_records({"products": [product("SHOE-3", categories=[{"path": ["Home", "Shoes"]}])]})

        assert (await category_at(api, "Home", "Shoes"))["productCount"] == 3


class TestMedia:
    async def test_get_answers_the_media_fields(self, api: Api, images: str) -> None:
        front = (await import_shoes(api, images))["media"][0]

        found = await ok(await api.get(f"/api/catalog/media/{front['id']}"))

        assert set(found) == MEDIA_FIELDS | {"folder"}
        assert found == {
            **{key: value for key, value in front.items() if key != "position"},
            "folder": None,
        }

    async def test_get_answers_the_imported_values(self, api: Api, images: str) -> None:
        media_id = uuid.uuid4().hex
        await api.import_records(
            {"media": [{"id": media_id, "url": f"{images}/logo.png", "title": "Logo", "alt": "Our logo"}]}
        )

        found = await ok(await api.get(f"/api/catalog/media/{media_id}"))

        assert found["id"] == media_id
        assert found["sourceUrl"] == f"{images}/logo.png"
        assert found["title"] == "Logo"
        assert found["alt"] == "Our logo"

    @pytest.mark.parametrize("form", ["hex", "dashed", "uppercase-hex"])
    async def test_get_accepts_every_id_form(self, api: Api, images: str, form: str) -> None:
        media_id = uuid.uuid4().hex
        await api.import_records({"media": [{"id": media_id, "url": f"{images}/logo.png"}]})

        found = await ok(await api.get(f"/api/catalog/media/{id_forms(media_id)[form]}"))

        assert found["id"] == media_id

    async def test_get_unknown_id_is_not_found(self, api: Api) -> None:
        response = await api.get(f"/api/catalog/media/{uuid.uuid4().hex}")

        assert_error(response, 404, "MEDIA_NOT_FOUND")

    async def test_url_finds_the_media_imported_from_it(self, api: Api, images: str) -> None:
        await import_shoes(api, images)

        page = await ok(await api.get("/api/catalog/media", params={"url": f"{images}/back.png"}))

        assert [(item["sourceUrl"], item["title"]) for item in page["items"]] == [
            (f"{images}/back.png", "Back")
        ]
        assert page["nextCursor"] is None

    async def test_unknown_url_gives_an_empty_page(self, api: Api, images: str) -> None:
        await import_shoes(api, images)

        page = await ok(await api.get("/api/catalog/media", params={"url": f"{images}/side.png"}))

        assert page == {"items": [], "nextCursor": None}

    async def test_media_imported_twice_from_one_url_is_listed_once(self, api: Api, images: str) -> None:
        await import_shoes(api, images)
        await api.import_records(
            {"products": [product("SHOE-3", media=[{"url": f"{images}/front.png", "title": "Again"}])]}
        )

        page = await ok(await api.get("/api/catalog/media", params={"url": f"{images}/front.png"}))

        assert len(page["items"]) == 1

    async def test_pages_through_every_media_once(self, api: Api, images: str) -> None:
        await api.import_records({"media": [{"url": f"{images}/{n}.png"} for n in range(5)]})

        pages = await all_pages(api, "/api/catalog/media", limit=2)

        urls = [item["sourceUrl"] for page in pages for item in page["items"]]
        assert [len(page["items"]) for page in pages] == [2, 2, 1]
        assert sorted(urls) == sorted(f"{images}/{n}.png" for n in range(5))


class TestTaxes:
    async def test_lists_taxes_with_their_rates(self, api: Api) -> None:
        await api.import_records(
            {"taxes": [{"name": "Standard", "taxRate": 19}, {"name": "Odd", "taxRate": 7.5}]}
        )

        page = await ok(await api.get("/api/catalog/taxes"))

        assert [set(item) for item in page["items"]] == [{"id", "name", "taxRate"}] * 2
        assert sorted((item["name"], item["taxRate"]) for item in page["items"]) == [
            ("Odd", 7.5),
            ("Standard", 19),
        ]
        assert all(HEX_ID.match(item["id"]) for item in page["items"])
        assert page["nextCursor"] is None

    async def test_empty_catalog_gives_an_empty_page(self, api: Api) -> None:
        page = await ok(await api.get("/api/catalog/taxes"))

        assert page == {"items": [], "nextCursor": None}

    async def test_pages_through_every_tax_once(self, api: Api) -> None:
        await api.import_records({"taxes": [{"name": f"Rate {n}", "taxRate": n} for n in range(5)]})

        pages = await all_pages(api, "/api/catalog/taxes", limit=2)

        names = [item["name"] for page in pages for item in page["items"]]
        assert [len(page["items"]) for page in pages] == [2, 2, 1]
        assert sorted(names) == [f"Rate {n}" for n in range(5)]

    async def test_last_full_page_has_no_cursor(self, api: Api) -> None:
        await api.import_records({"taxes": [{"name": f"Rate {n}", "taxRate": n} for n in range(4)]})

        pages = await all_pages(api, "/api/catalog/taxes", limit=2)

        assert [len(page["items"]) for page in pages] == [2, 2]

    @pytest.mark.parametrize("cursor", ["not-a-cursor", "WyJ6enoiXQ"], ids=["garbage", "key-not-an-id"])
    async def test_invalid_cursor_is_rejected(self, api: Api, cursor: str) -> None:
        response = await api.get("/api/catalog/taxes", params={"cursor": cursor})

        assert_error(response, 422, "INVALID_CURSOR")

    async def test_invalid_limit_is_rejected(self, api: Api) -> None:
        response = await api.get("/api/catalog/taxes", params={"limit": 0})

        assert_error(response, 422, "INVALID_REQUEST")
