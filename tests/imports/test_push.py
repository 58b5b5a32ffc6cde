"""Pushing records over HTTP (CONTRACT §3): the PushResult, request limits, field validation, identity
and the create-or-update decision, reference resolvers, deletes and unassigns."""

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog_import.app import create_app
from catalog_import.config import Settings
from catalog_import.media.services import MediaServices
from tests.factories import Api, assert_error, product
from tests.images import IMAGES

HEX_ID = re.compile(r"[0-9a-f]{32}")
SUFFIXES = {"record": "record", "delete": "record/delete", "unassign": "record/unassign"}
IMAGE = f"{IMAGES}/shoe.jpg"


def problem(code: str, message: str, path: str, severity: str = "error") -> dict[str, Any]:
    """A problem of a PushResult record as the contract writes it."""
    codes = {"error": 3, "warning": 4}
    return {
        "code": code,
        "message": message,
        "path": path,
        "severity": severity,
        "severityCode": codes[severity],
    }


def codes_at(record: dict[str, Any]) -> list[tuple[str, str]]:
    """The (code, path) of each problem of one record of a PushResult."""
    return [(error["code"], error["path"]) for error in record["errors"]]


def assert_staged(record: dict[str, Any], action: str) -> str:
    """The record was accepted with this action; returns its id."""
    assert record["errors"] == [], record
    assert record["action"] == action, record
    assert HEX_ID.fullmatch(record["id"]), record
    record_id: str = record["id"]
    return record_id


def assert_rejected(record: dict[str, Any]) -> None:
    assert record["id"] is None, record
    assert record["action"] is None, record
    assert any(error["severity"] == "error" for error in record["errors"]), record


async def post_push(api: Api, import_id: str, body: Any, kind: str = "record") -> httpx.Response:
    return await api.post(f"/api/import/{import_id}/{SUFFIXES[kind]}", json=body)


async def post_raw(api: Api, import_id: str, content: Any, kind: str = "record") -> httpx.Response:
    return await api.client.post(
        f"/api/import/{import_id}/{SUFFIXES[kind]}",
        content=content,
        headers={**api.headers, "Content-Type": "application/json"},
    )


async def push_one(api: Api, body: Any, kind: str = "record", **config: Any) -> dict[str, Any]:
    """Push one body to a new import and return the only record of its PushResult."""
    import_id = await api.start(**config)
    result = await api.push(import_id, body, kind)
    [record] = result["records"]
    return record


async def seed(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    """Put records into the catalog through a whole import."""
    status = await api.import_records(body)
    assert status["status"] == "done", status
    assert status["totals"]["failures"] == 0, status
    return status


async def seed_media(api: Api, url: str = IMAGE) -> str:
    await seed(api, {"media": [{"url": url, "title": "seeded"}]})
    response = await api.get("/api/catalog/media", params={"url": url})
    [media] = response.json()["items"]
    media_id: str = media["id"]
    return media_id


async def category_id(api: Api, *path: str) -> str:
    response = await api.get("/api/catalog/categories", params={"path": list(path)})
    assert response.status_code == 200, response.text
    [category] = response.json()["items"]
    found: str = category["id"]
    return found


async def taxes(api: Api) -> list[dict[str, Any]]:
    response = await api.get("/api/catalog/taxes")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def products_numbered(api: Api, number: str) -> list[dict[str, Any]]:
    response = await api.get("/api/catalog/products", params={"productNumber": number})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def chunks(data: bytes, size: int = 1024 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


class TestPushResult:
    async def test_shape(self, api: Api) -> None:
        import_id = await api.start()

        response = await post_push(api, import_id, {"products": [product("P1")]})

        assert response.status_code == 200, response.text
        result = response.json()
        assert list(result) == ["batch", "containsErrors", "records"]
        assert result["batch"] == 1
        assert result["containsErrors"] is False
        [record] = result["records"]
        assert list(record) == ["entity", "path", "id", "action", "errors"]
        assert record["entity"] == "product"
        assert record["path"] == "products.0"
        assert uuid.UUID(assert_staged(record, "create")).version == 7

    async def test_batch_counts_every_kind_of_push(self, api: Api) -> None:
        await seed(api, {"products": [product("P1")]})
        import_id = await api.start()

        batches = [
            (await api.push(import_id, {"products": [product("P2")]}))["batch"],
            (await api.push(import_id, {"products": [{"productNumber": "P1"}]}, "delete"))["batch"],
            (await api.push(import_id, {"products": [{"productNumber": "P1"}]}, "unassign"))["batch"],
            (await api.push(import_id, {"taxes": [{"name": "Zero", "taxRate": 0}]}))["batch"],
        ]

        assert batches == [1, 2, 3, 4]

    async def test_concurrent_pushes_get_distinct_batches(self, api: Api) -> None:
        import_id = await api.start()

        results = await asyncio.gather(
            *(api.push(import_id, {"products": [product(f"P{index}")]}) for index in range(4))
        )

        assert sorted(result["batch"] for result in results) == [1, 2, 3, 4]
        assert all(not result["containsErrors"] for result in results)

    async def test_concurrent_pushes_of_one_record_stage_it_once(self, api: Api) -> None:
        import_id = await api.start()

        results = await asyncio.gather(
            *(api.push(import_id, {"products": [product("P1")]}) for _ in range(3))
        )

        assert len({result["records"][0]["id"] for result in results}) == 1
        status = await api.commit_and_run(import_id)
        assert status["totals"]["product"] == 1

    async def test_batch_is_counted_per_import(self, api: Api) -> None:
        first = await api.start()
        second = await api.start()
        await api.push(first, {"products": [product("P1")]})
        await api.push(first, {"products": [product("P2")]})

        result = await api.push(second, {"products": [product("P3")]})

        assert result["batch"] == 1

    async def test_a_push_whose_records_are_all_rejected_still_counts(self, api: Api) -> None:
        import_id = await api.start()
        rejected = await api.push(import_id, {"products": [{"productNumber": "P1"}]})

        accepted = await api.push(import_id, {"products": [product("P1")]})

        assert rejected["containsErrors"] is True
        assert (rejected["batch"], accepted["batch"]) == (1, 2)

    async def test_a_refused_request_does_not_count(self, api: Api) -> None:
        import_id = await api.start()
        await api.push(import_id, {"products": [product("P1")]})
        assert_error(await post_push(api, import_id, ["not an object"]), 422, "INVALID_RECORDS")

        result = await api.push(import_id, {"products": [product("P2")]})

        assert result["batch"] == 2

    async def test_one_entry_per_root_record_in_body_order(self, api: Api) -> None:
        import_id = await api.start()
        body = {
            "products": [product("P1"), product("P2")],
            "taxes": [{"name": "Reduced", "taxRate": 7}],
            "media": [{"url": IMAGE}],
            "categories": [{"name": "Home"}, {"name": "Shoes", "parent": ["Home"]}],
            "extensions": {"colors": [{"name": "red"}]},
        }

        result = await api.push(import_id, body)

        assert [(record["entity"], record["path"]) for record in result["records"]] == [
            ("product", "products.0"),
            ("product", "products.1"),
            ("tax", "taxes.0"),
            ("media", "media.0"),
            ("category", "categories.0"),
            ("category", "categories.1"),
            ("colors", "extensions.colors.0"),
        ]

    async def test_nested_records_have_no_entry_of_their_own(self, api: Api) -> None:
        import_id = await api.start()
        body = {"products": [product("P1", media=[{"url": IMAGE}])]}

        result = await api.push(import_id, body)

        assert [record["path"] for record in result["records"]] == ["products.0"]
        # The product, its tax and its media are all staged.
        assert (await api.status(import_id))["progress"]["total"] == 3

    async def test_an_empty_body_stages_nothing(self, api: Api) -> None:
        import_id = await api.start()

        result = await api.push(import_id, {})

        assert result == {"batch": 1, "containsErrors": False, "records": []}

    async def test_contains_errors_when_a_record_has_an_error(self, api: Api) -> None:
        import_id = await api.start()

        result = await api.push(import_id, {"products": [product("P1"), {"productNumber": "P2"}]})

        assert result["containsErrors"] is True

    async def test_warnings_alone_do_not_count_as_errors(self, api: Api) -> None:
        import_id = await api.start(deferReferences=True)
        body = {"products": [product("P1", categories=[{"path": ["Later"]}])]}

        result = await api.push(import_id, body)

        assert result["containsErrors"] is False
        [record] = result["records"]
        assert [error["severity"] for error in record["errors"]] == ["warning"]

    async def test_ids_are_answered_in_32_hex_form(self, api: Api) -> None:
        given = uuid.uuid4()

        record = await push_one(api, {"products": [product("P1", id=str(given))]})

        assert record["id"] == given.hex


class TestRequestLimits:
    async def test_accepts_1000_root_records(self, api: Api, settings: Settings) -> None:
        assert settings.max_records_per_push == 1000
        import_id = await api.start()
        body = {"taxes": [{"name": f"Tax {index}", "taxRate": 1} for index in range(1000)]}

        result = await api.push(import_id, body)

        assert len(result["records"]) == 1000
        assert result["containsErrors"] is False

    @pytest.fixture
    async def narrow_app(
        self, settings: Settings, session_factory: async_sessionmaker[AsyncSession], media: MediaServices
    ) -> AsyncIterator[tuple[Api, Api]]:
        """An app with one push slot, one push per integration at a time and a body deadline of 2 s, and
        two integrations signed in to it."""
        app = create_app(
            settings.model_copy(
                update={"push_concurrency": 1, "pushes_per_integration": 1, "push_body_timeout_seconds": 2}
            )
        )
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client,
        ):
            slow = await Api.signed_in(client, session_factory, settings, media, name="slow")
            quick = await Api.signed_in(client, session_factory, settings, media, name="quick")
            yield slow, quick

    @staticmethod
    def trickled(body: dict[str, Any], arrived: asyncio.Event) -> AsyncIterator[bytes]:
        """``body`` sent in two parts, the second once ``arrived`` is set."""
        content = json.dumps(body).encode()

        async def parts() -> AsyncIterator[bytes]:
            yield content[:10]
            await arrived.wait()
            yield content[10:]

        return parts()

    async def test_a_slow_body_delays_no_other_integration(self, narrow_app: tuple[Api, Api]) -> None:
        slow, quick = narrow_app
        slow_import, quick_import = await slow.start(), await quick.start()
        arrived = asyncio.Event()
        trickling = asyncio.create_task(
            slow.post(
                f"/api/import/{slow_import}/record",
                content=self.trickled({"products": [product("SLOW-1")]}, arrived),
                headers={"Content-Type": "application/json"},
            )
        )
        await asyncio.sleep(0.2)  # its first bytes are in; the rest is on its way
        behind = asyncio.create_task(post_push(slow, slow_import, {"products": [product("SLOW-2")]}))

        # The only push slot is free: another integration's push is answered at once.
        quick_answer = await asyncio.wait_for(
            post_push(quick, quick_import, {"products": [product("QUICK-1")]}), timeout=1.5
        )
        await asyncio.sleep(0.2)
        behind_waited = not behind.done()
        arrived.set()
        slow_answer, behind_answer = await trickling, await behind

        assert quick_answer.status_code == 200, quick_answer.text
        assert behind_waited  # the slow integration's second push waits for its own turn
        assert slow_answer.status_code == behind_answer.status_code == 200
        assert [answer.json()["batch"] for answer in (slow_answer, behind_answer)] == [1, 2]

    async def test_a_body_that_does_not_arrive_in_time_is_refused(self, narrow_app: tuple[Api, Api]) -> None:
        slow, _ = narrow_app
        import_id = await slow.start()
        never = asyncio.Event()

        response = await slow.post(
            f"/api/import/{import_id}/record",
            content=self.trickled({"products": [product("LATE-1")]}, never),
            headers={"Content-Type": "application/json"},
        )
        after = await post_push(slow, import_id, {"products": [product("ON-TIME-1")]})

        assert_error(response, 408, "BODY_TIMEOUT")
        assert "2 s" in response.json()["message"]
        # Nothing of it was staged (it took no batch), and the integration's turn was given back.
        assert after.status_code == 200, after.text
        assert after.json()["batch"] == 1

    async def test_more_than_1000_root_records(self, api: Api) -> None:
        import_id = await api.start()
        body = {"taxes": [{"name": f"Tax {index}", "taxRate": 1} for index in range(1001)]}

        response = await post_push(api, import_id, body)

        assert_error(response, 422, "BATCH_TOO_LARGE")
        assert (await api.status(import_id))["progress"]["total"] == 0

    async def test_variants_that_would_stage_more_than_the_limit_are_refused(
        self, api: Api, settings: Settings
    ) -> None:
        # 11 products of 25 sizes in 40 colours: a 30 KB body that would stage 11,011 records and more.
        assert settings.max_staged_records_per_push == 10_000
        configurator = [{"property": "Size", "value": f"S{n}"} for n in range(25)]
        configurator += [{"property": "Colour", "value": f"C{n}"} for n in range(40)]
        import_id = await api.start()
        body = {"products": [product(f"MANY-{n}", variants=configurator) for n in range(11)]}

        response = await post_push(api, import_id, body)

        error = assert_error(response, 422, "BATCH_TOO_LARGE")
        assert "at most 10000" in error["message"]
        assert (await api.status(import_id))["progress"]["total"] == 0

    async def test_what_a_push_stages_is_bounded_with_its_nested_records(
        self, settings: Settings, session_factory: async_sessionmaker[AsyncSession], media: MediaServices
    ) -> None:
        app = create_app(settings.model_copy(update={"max_staged_records_per_push": 52}))
        six_by_eight = [{"property": "Size", "value": f"S{n}"} for n in range(6)]
        six_by_eight += [{"property": "Colour", "value": f"C{n}"} for n in range(8)]
        pictures = [{"url": f"https://cdn.example.com/{n}.png"} for n in range(3)]
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client,
        ):
            api = await Api.signed_in(client, session_factory, settings, media, name="bounded")
            import_id = await api.start()
            # 1 product, its tax, 48 variants and 2 media: 52 records, the limit.
            at_limit = await post_push(
                api, import_id, {"products": [product("AT", variants=six_by_eight, media=pictures[:2])]}
            )
            over = await post_push(
                api, import_id, {"products": [product("OVER", variants=six_by_eight, media=pictures)]}
            )
            status = await api.status(import_id)

        assert at_limit.status_code == 200, at_limit.text
        assert at_limit.json()["containsErrors"] is False
        error = assert_error(over, 422, "BATCH_TOO_LARGE")
        assert "53 records" in error["message"] and "at most 52" in error["message"]
        assert status["progress"]["total"] == 52

    async def test_root_records_are_counted_across_collections(self, api: Api) -> None:
        import_id = await api.start()
        body = {
            "taxes": [{"name": f"Tax {index}", "taxRate": 1} for index in range(500)],
            "categories": [{"name": f"Category {index}"} for index in range(500)],
            "extensions": {"colors": [{"name": "red"}]},
        }

        response = await post_push(api, import_id, body)

        assert_error(response, 422, "BATCH_TOO_LARGE")

    @pytest.mark.parametrize("kind", ["delete", "unassign"])
    async def test_more_than_1000_deletes_or_unassigns(self, api: Api, kind: str) -> None:
        import_id = await api.start()
        body = {"products": [{"productNumber": f"P{index}"} for index in range(1001)]}

        response = await post_push(api, import_id, body, kind)

        assert_error(response, 422, "BATCH_TOO_LARGE")

    async def test_body_of_exactly_the_size_limit_is_accepted(self, api: Api, settings: Settings) -> None:
        import_id = await api.start()
        content = json.dumps({"products": [product("P1")]}).encode()
        content += b" " * (settings.max_body_bytes - len(content))

        response = await post_raw(api, import_id, content)

        assert response.status_code == 200, response.text
        assert response.json()["containsErrors"] is False

    async def test_body_over_the_size_limit(self, api: Api, settings: Settings) -> None:
        assert settings.max_body_bytes == 16 * 1024 * 1024
        import_id = await api.start()
        content = json.dumps({"products": [product("P1")]}).encode()
        content += b" " * (settings.max_body_bytes + 1 - len(content))

        response = await post_raw(api, import_id, content)

        assert_error(response, 413, "PAYLOAD_TOO_LARGE")
        assert (await api.status(import_id))["progress"]["total"] == 0

    async def test_streamed_body_over_the_size_limit(self, api: Api, settings: Settings) -> None:
        import_id = await api.start()
        content = json.dumps({"products": [product("P1")]}).encode()
        content += b" " * (settings.max_body_bytes + 1 - len(content))

        response = await post_raw(api, import_id, chunks(content))

        assert "content-length" not in response.request.headers
        assert_error(response, 413, "PAYLOAD_TOO_LARGE")

    @pytest.mark.parametrize("kind", ["delete", "unassign"])
    async def test_delete_and_unassign_bodies_over_the_size_limit(
        self, api: Api, settings: Settings, kind: str
    ) -> None:
        import_id = await api.start()
        content = b'{"products": []}' + b" " * settings.max_body_bytes

        response = await post_raw(api, import_id, content, kind)

        assert_error(response, 413, "PAYLOAD_TOO_LARGE")

    @pytest.mark.parametrize(
        "content",
        [
            pytest.param(b"products=P1", id="form"),
            pytest.param(b'{"products": [', id="truncated"),
            pytest.param(b"", id="empty"),
            pytest.param(b'{"products": ["\xff"]}', id="not-utf8"),
        ],
    )
    @pytest.mark.parametrize("kind", ["record", "delete", "unassign"])
    async def test_body_that_is_not_json(self, api: Api, content: bytes, kind: str) -> None:
        import_id = await api.start()

        response = await post_raw(api, import_id, content, kind)

        assert_error(response, 422, "INVALID_RECORDS")

    @pytest.mark.parametrize(
        "body",
        [
            pytest.param([product("P1")], id="array"),
            pytest.param("products", id="string"),
            pytest.param(None, id="null"),
            pytest.param({"products": [product("P1")], "orders": []}, id="unknown-collection"),
            pytest.param({"product": [product("P1")]}, id="singular-key"),
            pytest.param({"products": product("P1")}, id="collection-not-a-list"),
            pytest.param({"extensions": [{"name": "red"}]}, id="extensions-not-an-object"),
            pytest.param({"extensions": {"colors": {"name": "red"}}}, id="extension-not-a-list"),
        ],
    )
    async def test_body_that_is_not_an_object_of_collections(self, api: Api, body: Any) -> None:
        import_id = await api.start()

        response = await post_push(api, import_id, body)

        assert_error(response, 422, "INVALID_RECORDS")
        assert (await api.status(import_id))["progress"]["total"] == 0

    async def test_unknown_collection_is_named(self, api: Api) -> None:
        import_id = await api.start()

        response = await post_push(api, import_id, {"products": [], "orders": []})

        body = assert_error(response, 422, "INVALID_RECORDS")
        assert "orders" in body["message"]

    @pytest.mark.parametrize(
        ("kind", "body"),
        [
            pytest.param("delete", {"variants": []}, id="delete-unknown-collection"),
            pytest.param("unassign", {"taxes": []}, id="unassign-taxes"),
            pytest.param("unassign", {"extensions": {}}, id="unassign-extensions"),
            pytest.param("unassign", [{"productNumber": "P1"}], id="unassign-array"),
        ],
    )
    async def test_delete_and_unassign_bodies_of_other_keys(self, api: Api, kind: str, body: Any) -> None:
        import_id = await api.start()

        response = await post_push(api, import_id, body, kind)

        assert_error(response, 422, "INVALID_RECORDS")


class TestErrorEnvelope:
    @pytest.mark.parametrize(
        ("request_", "status", "code"),
        [
            pytest.param(("POST", "record", b"[1]", True), 422, "INVALID_RECORDS", id="invalid-records"),
            pytest.param(("POST", "record", b"x", True), 422, "INVALID_RECORDS", id="not-json"),
            pytest.param(("POST", "record", b"{}", False), 401, "UNAUTHORIZED", id="no-token"),
            pytest.param(("GET", "record", None, True), 405, "METHOD_NOT_ALLOWED", id="wrong-method"),
        ],
    )
    async def test_every_4xx_has_the_envelope(
        self, api: Api, request_: tuple[str, str, bytes | None, bool], status: int, code: str
    ) -> None:
        method, suffix, content, signed_in = request_
        import_id = await api.start()
        headers = {**(api.headers if signed_in else {}), "Content-Type": "application/json"}

        response = await api.client.request(
            method, f"/api/import/{import_id}/{suffix}", content=content, headers=headers
        )

        assert_error(response, status, code)

    async def test_not_found(self, api: Api) -> None:
        response = await post_push(api, uuid.uuid4().hex, {"products": [product("P1")]})

        assert_error(response, 404, "IMPORT_NOT_FOUND")

    async def test_batch_too_large(self, api: Api) -> None:
        import_id = await api.start()

        response = await post_push(api, import_id, {"taxes": [{"name": "T"}] * 1001})

        assert_error(response, 422, "BATCH_TOO_LARGE")

    async def test_invalid_records_may_carry_details(self, api: Api) -> None:
        import_id = await api.start()

        response = await post_push(api, import_id, {"orders": []})

        body = assert_error(response, 422, "INVALID_RECORDS")
        assert isinstance(body.get("details", []), list)


class TestFieldValidation:
    async def test_negative_price(self, api: Api) -> None:
        body = {"products": [product("P1", prices=[{"currency": "EUR", "gross": -1, "net": 1}])]}

        record = await push_one(api, body)

        assert_rejected(record)
        assert codes_at(record) == [("INVALID_FIELD", "products.0.prices.0.gross")]
        assert record["errors"][0]["severity"] == "error"
        assert record["errors"][0]["severityCode"] == 3

    async def test_stock_that_is_not_a_number(self, api: Api) -> None:
        record = await push_one(api, {"products": [product("P1", stock="abc")]})

        assert_rejected(record)
        assert codes_at(record) == [("INVALID_FIELD", "products.0.stock")]

    @pytest.mark.parametrize("stock", [1.5, True, "1.5", ""])
    async def test_stock_that_is_not_an_integer(self, api: Api, stock: Any) -> None:
        record = await push_one(api, {"products": [product("P1", stock=stock)]})

        assert codes_at(record) == [("INVALID_FIELD", "products.0.stock")]

    async def test_custom_fields_nested_too_deep(self, api: Api) -> None:
        deep: Any = "bottom"
        for _ in range(40):
            deep = {"inner": deep}
        shallow: Any = "bottom"
        for _ in range(20):
            shallow = [shallow]

        records = (
            await api.push(
                await api.start(),
                {
                    "products": [
                        product("DEEP", customFields=deep),
                        product("OK", customFields={"x": shallow}),
                    ]
                },
            )
        )["records"]

        assert codes_at(records[0]) == [("INVALID_FIELD", "products.0.customFields")]
        assert "nested" in records[0]["errors"][0]["message"]
        assert_staged(records[1], "create")

    @pytest.mark.parametrize(
        ("url", "reason"),
        [
            ("http://0177.0.0.1:8001/x.png", "dotted decimal"),
            ("http://[::1:8003/x.png", "not a valid URL"),
            ("http://127.0.0.1:99999/x.png", "Port out of range"),
            ("http://2130706433/x.png", "dotted decimal"),
            ("http://127.1/x.png", "dotted decimal"),
            ("http://exa%41mple.com/x.png", "not a valid host name"),
            ("http://[fe80::1%25eth0]/x.png", "not an IPv6 address"),
            ("http:///x.png", "has no host"),
            ("ftp://example.com/x.png", "http or https"),
            ("http://user:secret@example.com/x.png", "user name or password"),
            ("https://token@example.com/x.png", "user name or password"),
        ],
    )
    async def test_a_media_url_the_workers_cannot_fetch_is_refused(
        self, api: Api, url: str, reason: str
    ) -> None:
        import_id = await api.start()
        result = await api.push(
            import_id,
            {"media": [{"url": url}], "products": [product("P1", media=[{"url": url}]), product("P2")]},
        )

        media, with_media, without = result["records"]
        for record, path in ((media, "media.0.url"), (with_media, "products.0.media.0.url")):
            assert_rejected(record)
            assert codes_at(record) == [("INVALID_FIELD", path)]
            assert reason in record["errors"][0]["message"]
        assert_staged(without, "create")

    @pytest.mark.parametrize(
        "url",
        [
            "https://cdn.example.com/a/b.png?size=2#top",
            "http://127.0.0.1:8001/x.png",
            "http://[2001:db8::1]:8080/x.png",
            "https://bücher.example/x.png",
            "http://EXAMPLE.com./x y.png",
        ],
    )
    async def test_a_media_url_in_its_usual_forms_is_accepted(self, api: Api, url: str) -> None:
        record = await push_one(api, {"media": [{"url": url}]})

        assert_staged(record, "create")

    async def test_numeric_string_stock_is_accepted(self, api: Api) -> None:
        await api.import_records({"products": [product("P1", stock="100"), product("P2", stock=7)]})

        assert (await api.product("P1"))["stock"] == 100
        assert (await api.product("P2"))["stock"] == 7

    async def test_missing_name_when_creating(self, api: Api) -> None:
        record = product("P1")
        del record["name"]

        result = await push_one(api, {"products": [record]})

        assert_rejected(result)
        assert result["errors"] == [
            problem("INVALID_FIELD", "name is required to create a product", "products.0.name")
        ]

    async def test_every_missing_create_field_is_reported(self, api: Api) -> None:
        record = await push_one(api, {"products": [{"productNumber": "P1"}]})

        assert codes_at(record) == [
            ("INVALID_FIELD", "products.0.name"),
            ("INVALID_FIELD", "products.0.tax"),
            ("INVALID_FIELD", "products.0.prices"),
        ]

    async def test_an_empty_price_list_cannot_create(self, api: Api) -> None:
        record = await push_one(api, {"products": [product("P1", prices=[])]})

        assert codes_at(record) == [("INVALID_FIELD", "products.0.prices")]

    async def test_a_missing_nested_field(self, api: Api) -> None:
        body = {"products": [product("P1", prices=[{"currency": "EUR", "net": 1}])]}

        record = await push_one(api, body)

        assert codes_at(record) == [("INVALID_FIELD", "products.0.prices.0.gross")]

    async def test_unknown_field(self, api: Api) -> None:
        record = await push_one(api, {"products": [product("P1", colour="red")]})

        assert codes_at(record) == [("INVALID_FIELD", "products.0.colour")]

    async def test_unknown_field_in_a_reference(self, api: Api) -> None:
        record = await push_one(api, {"products": [product("P1", tax={"name": "Standard", "rate": 19})]})

        assert codes_at(record) == [("INVALID_FIELD", "products.0.tax.rate")]

    async def test_malformed_currency_is_reported_at_the_currency(self, api: Api) -> None:
        body = {"products": [product("P1", prices=[{"currency": "EURO", "gross": 1, "net": 1}])]}

        record = await push_one(api, body)

        assert_rejected(record)
        assert {path for _code, path in codes_at(record)} == {"products.0.prices.0.currency"}

    async def test_malformed_parent_is_reported_at_the_parent(self, api: Api) -> None:
        record = await push_one(api, {"categories": [{"name": "Shoes", "parent": "Home"}]})

        assert_rejected(record)
        assert {path for _code, path in codes_at(record)} == {"categories.0.parent"}

    async def test_path_inside_a_list_of_a_union(self, api: Api) -> None:
        record = await push_one(api, {"categories": [{"name": "Shoes", "parent": ["Home", ""]}]})

        # The list form names the empty name; the object form of a parent does not match at all.
        assert ("INVALID_FIELD", "categories.0.parent.1") in codes_at(record)
        assert {path for _code, path in codes_at(record)} <= {"categories.0.parent", "categories.0.parent.1"}

    async def test_record_that_is_not_an_object(self, api: Api) -> None:
        record = await push_one(api, {"products": ["P1"]})

        assert_rejected(record)
        assert codes_at(record) == [("INVALID_FIELD", "products.0")]

    async def test_paths_count_from_zero_within_each_collection(self, api: Api) -> None:
        import_id = await api.start()
        body = {
            "taxes": [{"name": "Ok", "taxRate": 1}, {"name": "Bad", "taxRate": 101}],
            "products": [product("P1"), product("P2"), product("P3", stock="x")],
        }

        result = await api.push(import_id, body)

        assert [codes_at(record) for record in result["records"]] == [
            [],
            [("INVALID_FIELD", "taxes.1.taxRate")],
            [],
            [],
            [("INVALID_FIELD", "products.2.stock")],
        ]

    async def test_a_record_needs_an_identity(self, api: Api) -> None:
        record = await push_one(api, {"products": [{"name": "Nameless"}]})

        assert_rejected(record)
        assert codes_at(record) == [("INVALID_FIELD", "products.0")]


class TestIdentity:
    async def test_new_product_number_is_a_create(self, api: Api) -> None:
        record = await push_one(api, {"products": [product("P1")]})

        assert_staged(record, "create")

    async def test_a_number_staged_in_another_import_is_still_a_create(self, api: Api) -> None:
        elsewhere = await api.start()
        staged = await api.push(elsewhere, {"products": [product("P1")]})

        record = await push_one(api, {"products": [product("P1")]})

        assert assert_staged(record, "create") != staged["records"][0]["id"]

    async def test_product_number_in_the_catalog_is_an_update(self, api: Api) -> None:
        await seed(api, {"products": [product("P1")]})
        existing = await api.product("P1")

        record = await push_one(api, {"products": [{"productNumber": "P1", "stock": 5}]})

        assert assert_staged(record, "update") == existing["id"]

    async def test_update_changes_only_the_fields_it_carries(self, api: Api) -> None:
        await seed(api, {"products": [product("P1", stock=3, description="Kept")]})

        await api.import_records({"products": [{"productNumber": "P1", "name": "Renamed"}]})

        updated = await api.product("P1")
        assert (updated["name"], updated["stock"], updated["description"]) == ("Renamed", 3, "Kept")
        assert updated["prices"] == [{"currency": "EUR", "gross": 11.9, "net": 10, "linked": True}]

    async def test_id_in_the_catalog_is_an_update(self, api: Api) -> None:
        await seed(api, {"products": [product("P1")]})
        existing = await api.product("P1")

        record = await push_one(api, {"products": [{"id": existing["id"], "name": "Renamed"}]})

        assert assert_staged(record, "update") == existing["id"]

    async def test_dashed_id_names_the_same_product(self, api: Api) -> None:
        await seed(api, {"products": [product("P1")]})
        existing = await api.product("P1")

        record = await push_one(api, {"products": [{"id": str(uuid.UUID(existing["id"])), "stock": 1}]})

        assert assert_staged(record, "update") == existing["id"]

    async def test_unknown_id_with_create_fields_creates_with_that_id(self, api: Api) -> None:
        given = uuid.uuid4().hex

        await api.import_records({"products": [product("P1", id=given)]})

        assert (await api.product("P1"))["id"] == given

    async def test_unknown_id_without_create_fields_is_not_found(self, api: Api) -> None:
        given = uuid.uuid4().hex

        record = await push_one(api, {"products": [{"id": given, "stock": 5}]})

        assert_rejected(record)
        assert record["errors"] == [problem("PRODUCT_NOT_FOUND", f"ID {given} not found", "products.0")]

    @pytest.mark.parametrize(
        ("collection", "code"),
        [
            pytest.param("taxes", "TAX_NOT_FOUND", id="tax"),
            pytest.param("categories", "CATEGORY_NOT_FOUND", id="category"),
            pytest.param("media", "MEDIA_NOT_FOUND", id="media"),
        ],
    )
    async def test_unknown_id_of_other_entities(self, api: Api, collection: str, code: str) -> None:
        given = uuid.uuid4().hex

        record = await push_one(api, {collection: [{"id": given}]})

        assert record["errors"] == [problem(code, f"ID {given} not found", f"{collection}.0")]

    async def test_repush_in_a_later_push_replaces_the_staged_record(self, api: Api) -> None:
        import_id = await api.start()
        first = await api.push(import_id, {"products": [product("P1", name="First", stock=1)]})
        second = await api.push(import_id, {"products": [product("P1", name="Second", stock=2)]})

        assert second["records"][0]["id"] == first["records"][0]["id"]
        assert second["records"][0]["action"] == first["records"][0]["action"] == "create"
        status = await api.commit_and_run(import_id)

        assert status["totals"]["product"] == 1
        [found] = await products_numbered(api, "P1")
        assert (found["id"], found["name"], found["stock"]) == (first["records"][0]["id"], "Second", 2)

    async def test_repush_within_one_push_replaces_the_earlier_record(self, api: Api) -> None:
        import_id = await api.start()
        body = {"products": [product("P1", name="First"), product("P1", name="Second")]}

        result = await api.push(import_id, body)

        first, second = result["records"]
        assert assert_staged(first, "create") == assert_staged(second, "create")
        await api.commit_and_run(import_id)
        [found] = await products_numbered(api, "P1")
        assert (found["id"], found["name"]) == (first["id"], "Second")

    async def test_repush_of_an_update_stays_an_update(self, api: Api) -> None:
        await seed(api, {"products": [product("P1", stock=1)]})
        existing = await api.product("P1")
        import_id = await api.start()
        await api.push(import_id, {"products": [{"productNumber": "P1", "stock": 2}]})

        again = await api.push(import_id, {"products": [{"productNumber": "P1", "stock": 3}]})

        assert assert_staged(again["records"][0], "update") == existing["id"]
        await api.commit_and_run(import_id)
        assert (await api.product("P1"))["stock"] == 3

    async def test_repush_by_id_of_a_record_staged_by_number(self, api: Api) -> None:
        import_id = await api.start()
        first = await api.push(import_id, {"products": [product("P1", name="First")]})
        staged_id = first["records"][0]["id"]

        again = await api.push(import_id, {"products": [product("P1", id=staged_id, name="Second")]})

        assert assert_staged(again["records"][0], "create") == staged_id
        await api.commit_and_run(import_id)
        [found] = await products_numbered(api, "P1")
        assert found["name"] == "Second"

    async def test_rejected_repush_leaves_the_staged_record_as_it_was(self, api: Api) -> None:
        import_id = await api.start()
        first = await api.push(import_id, {"products": [product("P1", name="First", stock=1)]})

        again = await api.push(import_id, {"products": [product("P1", name="Second", stock="many")]})

        assert_rejected(again["records"][0])
        await api.commit_and_run(import_id)
        found = await api.product("P1")
        assert (found["id"], found["name"], found["stock"]) == (first["records"][0]["id"], "First", 1)

    async def test_repush_of_a_create_must_carry_the_create_fields(self, api: Api) -> None:
        import_id = await api.start()
        await api.push(import_id, {"products": [product("P1")]})

        again = await api.push(import_id, {"products": [{"productNumber": "P1", "name": "Renamed"}]})

        assert codes_at(again["records"][0]) == [
            ("INVALID_FIELD", "products.0.tax"),
            ("INVALID_FIELD", "products.0.prices"),
        ]

    async def test_repush_of_the_same_body_duplicates_nothing(self, api: Api) -> None:
        import_id = await api.start()
        body = {"products": [product("P1", media=[{"url": IMAGE}]), product("P2")]}
        first = await api.push(import_id, body)
        total = (await api.status(import_id))["progress"]["total"]

        second = await api.push(import_id, body)

        assert [r["id"] for r in second["records"]] == [r["id"] for r in first["records"]]
        assert (await api.status(import_id))["progress"]["total"] == total == 4
        status = await api.commit_and_run(import_id)
        assert status["totals"] == {
            "product": 2,
            "media": 1,
            "category": 0,
            "tax": 1,
            "total": 4,
            "failures": 0,
        }

    async def test_tax_by_name_is_an_update(self, api: Api) -> None:
        await seed(api, {"taxes": [{"name": "Reduced", "taxRate": 7}]})
        [tax] = await taxes(api)

        record = await push_one(api, {"taxes": [{"name": "Reduced", "taxRate": 8}]})

        assert assert_staged(record, "update") == tax["id"]

    async def test_category_by_path_is_an_update(self, api: Api) -> None:
        await seed(api, {"categories": [{"name": "Home"}, {"name": "Shoes", "parent": ["Home"]}]})
        shoes = await category_id(api, "Home", "Shoes")

        record = await push_one(api, {"categories": [{"name": "Shoes", "parent": ["Home"], "active": False}]})

        assert assert_staged(record, "update") == shoes

    async def test_media_by_url_is_an_update(self, api: Api) -> None:
        media_id = await seed_media(api)

        record = await push_one(api, {"media": [{"url": IMAGE, "title": "New title"}]})

        assert assert_staged(record, "update") == media_id


class TestDuplicateProductNumber:
    async def test_id_with_the_number_of_another_catalog_product(self, api: Api) -> None:
        await seed(api, {"products": [product("P1")]})
        owner = await api.product("P1")

        record = await push_one(api, {"products": [product("P1", id=uuid.uuid4().hex)]})

        assert_rejected(record)
        [error] = record["errors"]
        assert error["code"] == "DUPLICATE_PRODUCT_NUMBER"
        assert error["path"].startswith("products.0")
        assert owner["id"] in error["message"]

    async def test_existing_product_renamed_to_the_number_of_another(self, api: Api) -> None:
        await seed(api, {"products": [product("P1"), product("P2")]})
        second = await api.product("P2")

        record = await push_one(api, {"products": [{"id": second["id"], "productNumber": "P1"}]})

        assert [code for code, _path in codes_at(record)] == ["DUPLICATE_PRODUCT_NUMBER"]
        assert (await api.product("P2"))["id"] == second["id"]

    async def test_id_with_the_number_of_a_record_staged_in_the_import(self, api: Api) -> None:
        import_id = await api.start()
        await api.push(import_id, {"products": [product("P1")]})

        result = await api.push(import_id, {"products": [product("P1", id=uuid.uuid4().hex)]})

        assert [code for code, _path in codes_at(result["records"][0])] == ["DUPLICATE_PRODUCT_NUMBER"]

    async def test_number_taken_after_the_push_fails_at_commit_with_an_id_of_its_own(self, api: Api) -> None:
        await seed(api, {"taxes": [{"name": "Standard rate", "taxRate": 19}]})
        first = await api.start("first")
        second = await api.start("second")
        await api.push(first, {"products": [product("P1", name="First")]})
        own_id = uuid.uuid4().hex
        pushed = await api.push(second, {"products": [product("P1", id=own_id, name="Second")]})
        assert_staged(pushed["records"][0], "create")
        await api.commit_and_run(first)

        status = await api.commit_and_run(second)

        assert status["totals"]["product"] == 0
        assert status["totals"]["failures"] == 1
        [failure] = status["failures"]
        assert (failure["path"], failure["id"], failure["batch"]) == (
            "products.0",
            pushed["records"][0]["id"],
            1,
        )
        assert [detail["code"] for detail in failure["details"]] == ["DUPLICATE_PRODUCT_NUMBER"]
        assert (await api.product("P1"))["name"] == "First"

    async def test_same_id_and_number_is_no_duplicate(self, api: Api) -> None:
        await seed(api, {"products": [product("P1")]})
        existing = await api.product("P1")

        record = await push_one(api, {"products": [{"id": existing["id"], "productNumber": "P1"}]})

        assert assert_staged(record, "update") == existing["id"]


class TestTaxResolver:
    async def test_by_name(self, api: Api) -> None:
        await seed(api, {"taxes": [{"name": "Reduced", "taxRate": 7}]})

        await api.import_records({"products": [product("P1", tax={"name": "Reduced"})]})

        tax = (await api.product("P1"))["tax"]
        assert (tax["name"], tax["taxRate"]) == ("Reduced", 7)

    async def test_by_id(self, api: Api) -> None:
        await seed(api, {"taxes": [{"name": "Reduced", "taxRate": 7}]})
        [tax] = await taxes(api)

        await api.import_records({"products": [product("P1", tax={"id": tax["id"]})]})

        assert (await api.product("P1"))["tax"]["id"] == tax["id"]

    async def test_by_name_of_a_tax_staged_earlier_in_the_body(self, api: Api) -> None:
        body = {
            "taxes": [{"name": "Reduced", "taxRate": 7}],
            "products": [product("P1", tax={"name": "Reduced"})],
        }

        status = await api.import_records(body)

        assert status["totals"]["tax"] == 1
        assert (await api.product("P1"))["tax"]["name"] == "Reduced"

    async def test_by_name_of_a_tax_staged_in_an_earlier_push(self, api: Api) -> None:
        import_id = await api.start()
        await api.push(import_id, {"taxes": [{"name": "Reduced", "taxRate": 7}]})

        result = await api.push(import_id, {"products": [product("P1", tax={"name": "Reduced"})]})

        assert_staged(result["records"][0], "create")

    async def test_nested_creation_is_shared_by_the_records_of_a_push(self, api: Api) -> None:
        tax = {"name": "Super reduced", "taxRate": 4}
        body = {"products": [product(f"P{index}", tax=tax) for index in range(3)]}

        status = await api.import_records(body)

        assert status["totals"]["tax"] == 1
        assert [(t["name"], t["taxRate"]) for t in await taxes(api)] == [("Super reduced", 4)]
        tax_ids = {(await api.product(f"P{index}"))["tax"]["id"] for index in range(3)}
        assert len(tax_ids) == 1

    async def test_nested_creation_reuses_a_catalog_tax_without_updating_it(self, api: Api) -> None:
        await seed(api, {"taxes": [{"name": "Reduced", "taxRate": 7}]})
        [existing] = await taxes(api)

        status = await api.import_records(
            {"products": [product("P1", tax={"name": "Reduced", "taxRate": 9})]}
        )

        assert status["totals"]["tax"] == 0
        assert await taxes(api) == [existing]
        assert (await api.product("P1"))["tax"]["id"] == existing["id"]

    async def test_root_record_after_a_nested_creation_replaces_it(self, api: Api) -> None:
        import_id = await api.start()
        body = {
            "products": [product("P1", tax={"name": "Reduced", "taxRate": 7})],
            "taxes": [{"name": "Reduced", "taxRate": 5}],
        }

        result = await api.push(import_id, body)

        tax_record = result["records"][1]
        assert_staged(tax_record, "create")
        status = await api.commit_and_run(import_id)
        assert status["totals"]["tax"] == 1
        assert [(t["id"], t["name"], t["taxRate"]) for t in await taxes(api)] == [
            (tax_record["id"], "Reduced", 5)
        ]
        assert (await api.product("P1"))["tax"]["id"] == tax_record["id"]

    async def test_unknown_name(self, api: Api) -> None:
        record = await push_one(api, {"products": [product("P1", tax={"name": "Nope"})]})

        assert_rejected(record)
        assert record["errors"] == [problem("TAX_NOT_FOUND", "Tax Nope not found", "products.0.tax")]

    async def test_unknown_id(self, api: Api) -> None:
        given = uuid.uuid4().hex

        record = await push_one(api, {"products": [product("P1", tax={"id": given})]})

        assert record["errors"] == [problem("TAX_NOT_FOUND", f"Tax ID {given} not found", "products.0.tax")]

    async def test_a_rejected_record_does_not_leave_its_nested_tax_behind(self, api: Api) -> None:
        import_id = await api.start()
        bad_price = [{"currency": "XXY", "gross": 1, "net": 1}]
        body = {
            "products": [
                product("P1", tax={"name": "Ghost", "taxRate": 5}, prices=bad_price),
                product("P2", tax={"name": "Ghost"}),
            ]
        }

        result = await api.push(import_id, body)

        assert codes_at(result["records"][1]) == [("TAX_NOT_FOUND", "products.1.tax")]
        assert (await api.status(import_id))["progress"]["total"] == 0


class TestCurrencyResolver:
    @pytest.mark.parametrize("code", ["USD", "usd", "Usd"])
    async def test_by_iso_code_in_any_case(self, api: Api, code: str) -> None:
        prices = [{"currency": code, "gross": 11.9, "net": 10, "linked": True}]

        await api.import_records({"products": [product("P1", prices=prices)]})

        assert [price["currency"] for price in (await api.product("P1"))["prices"]] == ["USD"]

    async def test_by_id(self, api: Api, session_factory: async_sessionmaker[AsyncSession]) -> None:
        async with session_factory() as session:
            chf = await session.scalar(text("SELECT id FROM currencies WHERE iso_code = 'CHF'"))
        assert chf is not None
        prices = [{"currency": {"id": chf.hex}, "gross": 12, "net": 10, "linked": False}]

        await api.import_records({"products": [product("P1", prices=prices)]})

        assert (await api.product("P1"))["prices"] == [
            {"currency": "CHF", "gross": 12, "net": 10, "linked": False}
        ]

    async def test_several_currencies(self, api: Api) -> None:
        prices = [
            {"currency": "EUR", "gross": 11.9, "net": 10, "linked": True},
            {"currency": "GBP", "gross": 10, "net": 8.4, "linked": True},
        ]

        await api.import_records({"products": [product("P1", prices=prices)]})

        assert sorted(price["currency"] for price in (await api.product("P1"))["prices"]) == ["EUR", "GBP"]

    async def test_unknown_iso_code(
        self, api: Api, session_factory: async_sessionmaker[AsyncSession]
    ) -> None:
        async with session_factory() as session:
            seeded = await session.scalar(text("SELECT count(*) FROM currencies WHERE iso_code = 'XXY'"))
        assert seeded == 0
        prices = [{"currency": "EUR", "gross": 1, "net": 1}, {"currency": "XXY", "gross": 1, "net": 1}]

        record = await push_one(api, {"products": [product("P1", prices=prices)]})

        assert_rejected(record)
        assert record["errors"] == [
            problem("CURRENCY_NOT_FOUND", "Currency XXY not found", "products.0.prices.1.currency")
        ]

    async def test_unknown_id(self, api: Api) -> None:
        given = uuid.uuid4().hex
        prices = [{"currency": {"id": given}, "gross": 1, "net": 1}]

        record = await push_one(api, {"products": [product("P1", prices=prices)]})

        assert codes_at(record) == [("CURRENCY_NOT_FOUND", "products.0.prices.0.currency")]

    async def test_not_deferred(self, api: Api) -> None:
        prices = [{"currency": "XXY", "gross": 1, "net": 1}]

        record = await push_one(api, {"products": [product("P1", prices=prices)]}, deferReferences=True)

        assert_rejected(record)
        assert codes_at(record) == [("CURRENCY_NOT_FOUND", "products.0.prices.0.currency")]


class TestCategoryResolver:
    async def test_by_path_in_the_catalog(self, api: Api) -> None:
        await seed(api, {"categories": [{"name": "Home"}, {"name": "Shoes", "parent": ["Home"]}]})

        await api.import_records({"products": [product("P1", categories=[{"path": ["Home", "Shoes"]}])]})

        [category] = (await api.product("P1"))["categories"]
        assert category["path"] == ["Home", "Shoes"]
        assert category["id"] == await category_id(api, "Home", "Shoes")

    async def test_by_id(self, api: Api) -> None:
        await seed(api, {"categories": [{"name": "Home"}]})
        home = await category_id(api, "Home")

        await api.import_records({"products": [product("P1", categories=[{"id": home}])]})

        assert [c["id"] for c in (await api.product("P1"))["categories"]] == [home]

    async def test_by_path_staged_earlier_in_the_body(self, api: Api) -> None:
        body = {
            "categories": [{"name": "Home"}, {"name": "Shoes", "parent": ["Home"]}],
            "products": [product("P1", categories=[{"path": ["Home", "Shoes"]}])],
        }

        status = await api.import_records(body)

        assert status["totals"]["category"] == 2
        assert [c["path"] for c in (await api.product("P1"))["categories"]] == [["Home", "Shoes"]]

    async def test_unknown_path(self, api: Api) -> None:
        import_id = await api.start()
        await api.push(import_id, {"categories": [{"name": "Home"}]})
        body = {
            "products": [
                product("P1", categories=[{"path": ["Home"]}]),
                product("P2", categories=[{"path": ["Home"]}, {"path": ["Home", "Shoes"]}]),
            ]
        }

        result = await api.push(import_id, body)

        assert result["containsErrors"] is True
        assert_staged(result["records"][0], "create")
        assert_rejected(result["records"][1])
        assert result["records"][1]["errors"] == [
            problem("CATEGORY_NOT_FOUND", "Category Home/Shoes not found", "products.1.categories.1")
        ]

    async def test_records_staged_in_another_import_are_not_seen(self, api: Api, other_api: Api) -> None:
        elsewhere = await api.start()
        await api.push(elsewhere, {"categories": [{"name": "Home"}]})
        body = {"products": [product("P1", categories=[{"path": ["Home"]}])]}

        mine = await push_one(api, body)
        theirs = await push_one(other_api, body)

        assert codes_at(mine) == [("CATEGORY_NOT_FOUND", "products.0.categories.0")]
        assert codes_at(theirs) == [("CATEGORY_NOT_FOUND", "products.0.categories.0")]

    async def test_unknown_id(self, api: Api) -> None:
        given = uuid.uuid4().hex

        record = await push_one(api, {"products": [product("P1", categories=[{"id": given}])]})

        assert record["errors"] == [
            problem("CATEGORY_NOT_FOUND", f"Category ID {given} not found", "products.0.categories.0")
        ]

    async def test_unknown_parent(self, api: Api) -> None:
        record = await push_one(api, {"categories": [{"name": "Shoes", "parent": ["Home"]}]})

        assert_rejected(record)
        assert [code for code, _path in codes_at(record)] == ["CATEGORY_NOT_FOUND"]
        assert record["errors"][0]["path"].startswith("categories.0.parent")

    async def test_products_to_assign(self, api: Api) -> None:
        await seed(api, {"products": [product("P1"), product("P2")]})
        second = await api.product("P2")

        await api.import_records(
            {"categories": [{"name": "Sale", "products": [{"productNumber": "P1"}, {"id": second["id"]}]}]}
        )

        sale = await api.get(f"/api/catalog/categories/{await category_id(api, 'Sale')}")
        assert sale.json()["productCount"] == 2
        assert [c["path"] for c in (await api.product("P1"))["categories"]] == [["Sale"]]

    async def test_unknown_product_to_assign(self, api: Api) -> None:
        body = {"categories": [{"name": "Sale", "products": [{"productNumber": "NOPE"}]}]}

        record = await push_one(api, body)

        assert_rejected(record)
        assert record["errors"] == [
            problem("PRODUCT_NOT_FOUND", "Product NOPE not found", "categories.0.products.0")
        ]

    async def test_unknown_product_id_to_assign(self, api: Api) -> None:
        given = uuid.uuid4().hex

        record = await push_one(api, {"categories": [{"name": "Sale", "products": [{"id": given}]}]})

        assert record["errors"] == [
            problem("PRODUCT_NOT_FOUND", f"Product ID {given} not found", "categories.0.products.0")
        ]


class TestMediaResolver:
    async def test_url_creates_the_media(self, api: Api) -> None:
        media = {"url": IMAGE, "title": "Shoe", "alt": "A shoe", "filename": "shoe.jpg"}

        status = await api.import_records({"products": [product("P1", media=[media])]})

        assert status["totals"]["media"] == 1
        [assigned] = (await api.product("P1"))["media"]
        assert (assigned["sourceUrl"], assigned["title"], assigned["alt"]) == (IMAGE, "Shoe", "A shoe")

    async def test_one_url_is_one_media_within_a_push(self, api: Api) -> None:
        body = {"products": [product("P1", media=[{"url": IMAGE}]), product("P2", media=[{"url": IMAGE}])]}

        status = await api.import_records(body)

        assert status["totals"]["media"] == 1
        first = (await api.product("P1"))["media"][0]["id"]
        assert (await api.product("P2"))["media"][0]["id"] == first

    async def test_url_already_imported_is_reused(self, api: Api) -> None:
        media_id = await seed_media(api)

        status = await api.import_records({"products": [product("P1", media=[{"url": IMAGE, "title": "x"}])]})

        assert status["totals"]["media"] == 0
        [assigned] = (await api.product("P1"))["media"]
        assert assigned["id"] == media_id
        assert assigned["title"] == "seeded"
        found = await api.get("/api/catalog/media", params={"url": IMAGE})
        assert len(found.json()["items"]) == 1

    async def test_by_id(self, api: Api) -> None:
        media_id = await seed_media(api)

        await api.import_records({"products": [product("P1", media=[{"id": media_id}])]})

        assert [m["id"] for m in (await api.product("P1"))["media"]] == [media_id]

    async def test_unknown_id(self, api: Api) -> None:
        given = uuid.uuid4().hex

        record = await push_one(api, {"products": [product("P1", media=[{"id": given}])]})

        assert_rejected(record)
        assert record["errors"] == [
            problem("MEDIA_NOT_FOUND", f"Media ID {given} not found", "products.0.media.0")
        ]


class TestDeferredReferences:
    async def test_unresolved_reference_is_a_pending_warning(self, api: Api) -> None:
        import_id = await api.start(deferReferences=True)

        result = await api.push(import_id, {"products": [product("P1", categories=[{"path": ["Later"]}])]})

        assert result["containsErrors"] is False
        [record] = result["records"]
        assert HEX_ID.fullmatch(record["id"])
        assert record["action"] == "create"
        [warning] = record["errors"]
        assert warning["code"] == "REFERENCE_PENDING"
        assert warning["path"] == "products.0.categories.0"
        assert (warning["severity"], warning["severityCode"]) == ("warning", 4)

    @pytest.mark.parametrize(
        ("fields", "path"),
        [
            pytest.param({"tax": {"name": "Later"}}, "products.0.tax", id="tax"),
            pytest.param({"media": [{"id": uuid.uuid4().hex}]}, "products.0.media.0", id="media"),
        ],
    )
    async def test_other_references_can_be_pending(self, api: Api, fields: dict[str, Any], path: str) -> None:
        record = await push_one(api, {"products": [product("P1", **fields)]}, deferReferences=True)

        assert codes_at(record) == [("REFERENCE_PENDING", path)]
        assert record["errors"][0]["severity"] == "warning"

    async def test_pending_reference_resolved_by_a_later_push(self, api: Api) -> None:
        import_id = await api.start(deferReferences=True)
        await api.push(import_id, {"products": [product("P1", categories=[{"path": ["Later"]}])]})
        await api.push(import_id, {"categories": [{"name": "Later"}]})

        status = await api.commit_and_run(import_id)

        assert status["totals"]["failures"] == 0
        assert [c["path"] for c in (await api.product("P1"))["categories"]] == [["Later"]]

    async def test_without_defer_the_record_is_rejected(self, api: Api) -> None:
        record = await push_one(api, {"products": [product("P1", categories=[{"path": ["Later"]}])]})

        assert_rejected(record)
        assert codes_at(record) == [("CATEGORY_NOT_FOUND", "products.0.categories.0")]


class TestDeletes:
    async def test_delete_of_catalog_entities(self, api: Api) -> None:
        await seed(
            api,
            {
                "taxes": [{"name": "Unused", "taxRate": 1}],
                "categories": [{"name": "Home"}],
                "media": [{"url": IMAGE}],
                "products": [product("P1")],
            },
        )
        product_id = (await api.product("P1"))["id"]
        import_id = await api.start()
        body = {
            "products": [{"productNumber": "P1"}],
            "categories": [{"path": ["Home"]}],
            "media": [{"url": IMAGE}],
            "taxes": [{"name": "Unused"}],
        }

        result = await api.push(import_id, body, "delete")

        assert result["containsErrors"] is False
        assert [(r["entity"], r["path"], r["action"]) for r in result["records"]] == [
            ("product", "products.0", "delete"),
            ("category", "categories.0", "delete"),
            ("media", "media.0", "delete"),
            ("tax", "taxes.0", "delete"),
        ]
        assert result["records"][0]["id"] == product_id

    async def test_delete_by_id(self, api: Api) -> None:
        await seed(api, {"products": [product("P1")]})
        product_id = (await api.product("P1"))["id"]

        record = await push_one(api, {"products": [product_id]}, "delete")

        assert assert_staged(record, "delete") == product_id

    async def test_delete_happens_at_commit(self, api: Api) -> None:
        await seed(api, {"products": [product("P1"), product("P2")]})
        import_id = await api.start()
        await api.push(import_id, {"products": [{"productNumber": "P1"}]}, "delete")
        assert len(await products_numbered(api, "P1")) == 1

        await api.commit_and_run(import_id)

        assert await products_numbered(api, "P1") == []
        assert len(await products_numbered(api, "P2")) == 1

    @pytest.mark.parametrize(
        ("body", "code", "message"),
        [
            pytest.param(
                {"products": [{"productNumber": "NOPE"}]},
                "PRODUCT_NOT_FOUND",
                "Product NOPE not found",
                id="product",
            ),
            pytest.param(
                {"categories": [{"path": ["Home", "Shoes"]}]},
                "CATEGORY_NOT_FOUND",
                "Category Home/Shoes not found",
                id="category",
            ),
            pytest.param(
                {"media": [{"url": IMAGE}]}, "MEDIA_NOT_FOUND", f"Media {IMAGE} not found", id="media"
            ),
            pytest.param({"taxes": [{"name": "Nope"}]}, "TAX_NOT_FOUND", "Tax Nope not found", id="tax"),
        ],
    )
    async def test_delete_of_something_unknown(
        self, api: Api, body: dict[str, Any], code: str, message: str
    ) -> None:
        collection = next(iter(body))

        record = await push_one(api, body, "delete")

        assert_rejected(record)
        assert record["errors"] == [problem(code, message, f"{collection}.0")]

    @pytest.mark.parametrize(
        ("collection", "code", "label"),
        [
            pytest.param("products", "PRODUCT_NOT_FOUND", "Product", id="product"),
            pytest.param("categories", "CATEGORY_NOT_FOUND", "Category", id="category"),
            pytest.param("media", "MEDIA_NOT_FOUND", "Media", id="media"),
            pytest.param("taxes", "TAX_NOT_FOUND", "Tax", id="tax"),
        ],
    )
    async def test_delete_of_an_unknown_id(self, api: Api, collection: str, code: str, label: str) -> None:
        given = uuid.uuid4().hex

        record = await push_one(api, {collection: [given]}, "delete")

        assert record["errors"] == [problem(code, f"{label} ID {given} not found", f"{collection}.0")]

    async def test_delete_of_a_record_staged_in_the_import(self, api: Api) -> None:
        import_id = await api.start()
        staged = await api.push(import_id, {"products": [product("P1")]})

        result = await api.push(import_id, {"products": [{"productNumber": "P1"}]}, "delete")

        assert assert_staged(result["records"][0], "delete") == staged["records"][0]["id"]

    async def test_one_unknown_among_known(self, api: Api) -> None:
        await seed(api, {"products": [product("P1")]})
        import_id = await api.start()

        result = await api.push(
            import_id, {"products": [{"productNumber": "NOPE"}, {"productNumber": "P1"}]}, "delete"
        )

        assert result["containsErrors"] is True
        assert codes_at(result["records"][0]) == [("PRODUCT_NOT_FOUND", "products.0")]
        assert_staged(result["records"][1], "delete")

    async def test_malformed_item(self, api: Api) -> None:
        record = await push_one(api, {"products": [{"productNumber": ""}]}, "delete")

        assert_rejected(record)
        assert ("INVALID_FIELD", "products.0.productNumber") in codes_at(record)

    async def test_extensions(self, api: Api) -> None:
        record = await push_one(api, {"extensions": {"colors": [{"name": "red"}]}}, "delete")

        assert codes_at(record) == [("CUSTOM_ENTITY_UNKNOWN", "extensions.colors.0")]


class TestUnassigns:
    async def test_unassign_of_an_unknown_product(self, api: Api) -> None:
        record = await push_one(
            api, {"products": [{"productNumber": "NOPE", "media": [{"url": IMAGE}]}]}, "unassign"
        )

        assert_rejected(record)
        assert record["errors"] == [problem("PRODUCT_NOT_FOUND", "Product NOPE not found", "products.0")]

    async def test_unassign_of_an_unknown_product_id(self, api: Api) -> None:
        given = uuid.uuid4().hex

        record = await push_one(api, {"products": [{"id": given}]}, "unassign")

        assert record["errors"] == [
            problem("PRODUCT_NOT_FOUND", f"Product ID {given} not found", "products.0")
        ]

    async def test_unassign_of_a_known_product(self, api: Api) -> None:
        await seed(
            api,
            {"categories": [{"name": "Home"}], "products": [product("P1", categories=[{"path": ["Home"]}])]},
        )
        product_id = (await api.product("P1"))["id"]
        import_id = await api.start()

        result = await api.push(
            import_id, {"products": [{"productNumber": "P1", "categories": [{"path": ["Home"]}]}]}, "unassign"
        )

        [record] = result["records"]
        assert result["containsErrors"] is False, record["errors"]
        assert (record["entity"], record["path"]) == ("product", "products.0")
        assert assert_staged(record, "unassign") == product_id
        await api.commit_and_run(import_id)
        assert (await api.product("P1"))["categories"] == []

    async def test_unassign_of_an_unknown_category(self, api: Api) -> None:
        await seed(api, {"products": [product("P1")]})

        record = await push_one(
            api, {"products": [{"productNumber": "P1", "categories": [{"path": ["Nope"]}]}]}, "unassign"
        )

        assert record["errors"] == [
            problem("CATEGORY_NOT_FOUND", "Category Nope not found", "products.0.categories.0")
        ]

    async def test_unassign_of_an_unknown_media_id(self, api: Api) -> None:
        await seed(api, {"products": [product("P1")]})
        given = uuid.uuid4().hex

        record = await push_one(
            api, {"products": [{"productNumber": "P1", "media": [{"id": given}]}]}, "unassign"
        )

        assert record["errors"] == [
            problem("MEDIA_NOT_FOUND", f"Media ID {given} not found", "products.0.media.0")
        ]


class TestUnsupportedAndUnknown:
    async def test_extensions_of_an_undeclared_custom_entity(self, api: Api) -> None:
        import_id = await api.start()

        result = await api.push(import_id, {"extensions": {"colors": [{"name": "red"}, {"name": "blue"}]}})

        assert result["containsErrors"] is True
        assert [(r["entity"], codes_at(r)) for r in result["records"]] == [
            ("colors", [("CUSTOM_ENTITY_UNKNOWN", "extensions.colors.0")]),
            ("colors", [("CUSTOM_ENTITY_UNKNOWN", "extensions.colors.1")]),
        ]
        assert all(r["id"] is None for r in result["records"])

    async def test_variant_overrides_without_variants(self, api: Api) -> None:
        overrides = [{"options": [{"group": "Size", "option": "S"}], "stock": 1}]
        record = await push_one(api, {"products": [product("P1", variantOverrides=overrides)]})

        assert_rejected(record)
        assert codes_at(record) == [("INVALID_FIELD", "products.0.variantOverrides")]


class TestMixedBodies:
    async def test_one_bad_record_among_good_ones(self, api: Api) -> None:
        import_id = await api.start()
        body = {"products": [product("P1"), product("P2", stock="abc"), product("P3")]}

        result = await api.push(import_id, body)

        assert result["containsErrors"] is True
        good_first, bad, good_last = result["records"]
        assert_staged(good_first, "create")
        assert_rejected(bad)
        assert_staged(good_last, "create")
        status = await api.commit_and_run(import_id)
        assert status["totals"]["product"] == 2
        assert status["totals"]["failures"] == 0
        assert (await api.product("P1"))["id"] == good_first["id"]
        assert (await api.product("P3"))["id"] == good_last["id"]
        assert await products_numbered(api, "P2") == []

    async def test_a_record_depending_on_a_rejected_one_is_rejected_too(self, api: Api) -> None:
        import_id = await api.start()
        body = {
            "categories": [{"name": "Home", "active": "yes"}],
            "products": [product("P1", categories=[{"path": ["Home"]}])],
        }

        result = await api.push(import_id, body)

        assert codes_at(result["records"][0]) == [("INVALID_FIELD", "categories.0.active")]
        assert codes_at(result["records"][1]) == [("CATEGORY_NOT_FOUND", "products.0.categories.0")]

    async def test_a_record_cannot_see_one_later_in_the_body(self, api: Api) -> None:
        import_id = await api.start()
        body = {
            "products": [product("P1", categories=[{"path": ["Home"]}])],
            "categories": [{"name": "Home"}],
        }

        result = await api.push(import_id, body)

        assert codes_at(result["records"][0]) == [("CATEGORY_NOT_FOUND", "products.0.categories.0")]
        assert_staged(result["records"][1], "create")
