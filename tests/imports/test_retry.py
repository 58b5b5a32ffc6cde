"""Retry over HTTP (CONTRACT §9.2): a done import's failed and skipped root records pushed again into a new
import with the same settings, as they were first pushed, with their origin; corrections pushed into it
replace them; its status and the first one's name each other; the conflicts."""

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from catalog_import.models import Import
from tests.factories import Api, assert_error, product
from tests.media.servers import LoopbackServer, Reply

MISSING = [{"path": ["Nowhere"]}]


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as started:
        yield started


async def retry(api: Api, import_id: str, body: Any = None) -> dict[str, Any]:
    response = await api.post(f"/api/import/{import_id}/retry", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def failed_import(api: Api, *records: dict[str, Any], **config: Any) -> str:
    """A done import of ``records`` (products) staged with ``deferReferences``: those naming a category
    that never appears fail at commit."""
    import_id = await api.start(deferReferences=True, **config)
    pushed = await api.push(import_id, {"products": list(records)})
    assert not pushed["containsErrors"], pushed
    status = await api.commit_and_run(import_id)
    assert status["status"] == "done"
    return import_id


class TestRetry:
    async def test_a_failed_media_download_succeeds_on_retry(self, api: Api, server: LoopbackServer) -> None:
        url = server.serve("/late.png", Reply(status=404), Reply(body=server.png("/late.png")))
        import_id = await api.start("catalog-sync")
        shoe = product("SHOE", media=[{"url": url, "title": "Late"}])
        await api.push(import_id, {"products": [product("FINE"), shoe]})
        first = await api.commit_and_run(import_id)
        assert [failure["path"] for failure in first["failures"]] == ["products.1"]

        answer = await retry(api, import_id)

        retry_id = answer["import"]["id"]
        assert answer["import"]["name"] == "catalog-sync (retry)"
        assert answer["import"]["status"] == "started"
        assert answer["records"]["batch"] == 1
        assert answer["records"]["containsErrors"] is False
        [record] = answer["records"]["records"]
        assert record["path"] == "products.0"
        assert record["origin"] == {"batch": 1, "path": "products.1"}
        assert record["action"] == "create"
        assert (await api.status(retry_id))["retryOf"] == import_id
        assert (await api.status(import_id))["retriedBy"] == [retry_id]
        status = await api.commit_and_run(retry_id)
        assert (status["status"], status["failures"]) == ("done", [])
        [media] = (await api.product("SHOE"))["media"]
        assert media["title"] == "Late"
        assert server.requests("/late.png") == 2

    async def test_records_that_fail_again_can_be_retried_again(self, api: Api) -> None:
        pushed = product("STUCK", categories=MISSING, stock=7)
        import_id = await failed_import(api, pushed)

        answer = await retry(api, import_id)
        retry_id = answer["import"]["id"]
        # The same settings: the reference is left pending again rather than refused.
        [record] = answer["records"]["records"]
        assert [error["code"] for error in record["errors"]] == ["REFERENCE_PENDING"]
        status = await api.commit_and_run(retry_id)

        assert status["totals"]["failures"] == 1
        [failure] = (await api.get(f"/api/import/{retry_id}/failures", params={"include": "record"})).json()[
            "items"
        ]
        assert failure["record"] == pushed
        again = await retry(api, retry_id)
        assert again["import"]["name"] == "test-import (retry) (retry)"
        assert (await api.status(again["import"]["id"]))["retryOf"] == retry_id

    async def test_a_correction_pushed_into_the_retry_replaces_the_record(self, api: Api) -> None:
        import_id = await failed_import(api, product("FIX", categories=MISSING))
        retry_id = (await retry(api, import_id))["import"]["id"]

        corrected = await api.push(retry_id, {"products": [product("FIX", categories=[{"path": ["Found"]}])]})
        await api.push(retry_id, {"categories": [{"name": "Found"}]})
        status = await api.commit_and_run(retry_id)

        assert corrected["batch"] == 2
        assert (status["failures"], status["totals"]["product"]) == ([], 1)
        assert [c["path"] for c in (await api.product("FIX"))["categories"]] == [["Found"]]

    async def test_failed_and_skipped_records_in_the_order_of_their_failures(self, api: Api) -> None:
        import_id = await api.start(deferReferences=True)
        await api.push(import_id, {"products": [product("FINE")]})
        home = {"name": "Home", "parent": ["Absent"]}
        await api.push(import_id, {"categories": [home]})
        uses = product("USES-HOME", categories=[{"path": ["Absent", "Home"]}])
        await api.push(import_id, {"products": [uses]})
        await api.push(import_id, {"taxes": [{"name": "Standard rate"}]}, kind="delete")
        first = await api.commit_and_run(import_id)
        origins = [{"batch": f["batch"], "path": f["path"]} for f in first["failures"]]

        answer = await retry(api, import_id, {"name": "second go"})

        records = answer["records"]["records"]
        assert answer["import"]["name"] == "second go"
        assert [r["origin"] for r in records] == origins
        assert [(r["entity"], r["path"], r["action"]) for r in records] == [
            ("category", "categories.0", "create"),
            ("product", "products.1", "create"),
            ("tax", "taxes.2", "delete"),
        ]
        assert first["totals"]["failures"] == 3
        status = await api.status(answer["import"]["id"])
        assert status["actions"] == {
            "category": {"create": 1, "update": 0, "delete": 0, "unassign": 0},
            "product": {"create": 1, "update": 0, "delete": 0, "unassign": 0},
            "tax": {"create": 0, "update": 0, "delete": 1, "unassign": 0},
        }

    async def test_a_failed_variant_retries_its_product_once(self, api: Api, server: LoopbackServer) -> None:
        url = server.serve("/medium.png", Reply(status=404), Reply(body=server.png("/medium.png")))
        shirt = product(
            "SHIRT",
            variants=[{"property": "Size", "value": "S"}, {"property": "Size", "value": "M"}],
            variantOverrides=[{"options": [{"group": "Size", "option": "M"}], "media": [{"url": url}]}],
        )
        import_id = await failed_import(api, shirt)
        failures = (await api.get(f"/api/import/{import_id}/failures", params={"include": "record"})).json()
        # The variant failed, not its product; its record is the product it was pushed in.
        [failure] = failures["items"]
        assert failure["path"] == "products.0.variantOverrides.0"
        assert failure["record"] == shirt

        answer = await retry(api, import_id)

        [record] = answer["records"]["records"]
        assert record["origin"] == {"batch": 1, "path": "products.0"}
        status = await api.commit_and_run(answer["import"]["id"])
        assert status["failures"] == []
        assert len((await api.product("SHIRT"))["variantIds"]) == 2

    async def test_the_retry_keeps_the_imports_settings(self, api: Api, server: LoopbackServer) -> None:
        import_id = await failed_import(
            api,
            product("SET", categories=MISSING),
            mediaFailure="skip",
            errorWebhookUrl=server.serve("/errors", Reply()),
            statusWebhookUrl=server.serve("/status", Reply()),
        )

        retry_id = (await retry(api, import_id))["import"]["id"]

        async with api.session_factory() as session:
            rows = {
                row.id.hex: row
                for row in await session.scalars(
                    select(Import).where(Import.id.in_([uuid.UUID(import_id), uuid.UUID(retry_id)]))
                )
            }
        settings = ("error_webhook_url", "status_webhook_url", "defer_references", "media_failure")
        assert [getattr(rows[retry_id], name) for name in settings] == [
            getattr(rows[import_id], name) for name in settings
        ]

    async def test_a_long_name_is_cut_to_fit_its_suffix(self, api: Api) -> None:
        long_name = "n" * 255
        long_id = await api.start(long_name, deferReferences=True)
        await api.push(long_id, {"products": [product("LONG2", categories=MISSING)]})
        await api.commit_and_run(long_id)

        answer = await retry(api, long_id)

        assert answer["import"]["name"] == "n" * 247 + " (retry)"


class TestRetryRefused:
    async def test_an_import_not_done_cannot_be_retried(self, api: Api) -> None:
        import_id = await api.start()
        await api.push(import_id, {"products": [product("OPEN")]})

        response = await api.post(f"/api/import/{import_id}/retry")
        assert_error(response, 409, "IMPORT_NOT_DONE")
        await api.commit(import_id)
        response = await api.post(f"/api/import/{import_id}/retry")
        assert_error(response, 409, "IMPORT_NOT_DONE")

    async def test_a_cancelled_import_cannot_be_retried(self, api: Api) -> None:
        import_id = await api.start()
        assert (await api.post(f"/api/import/{import_id}/cancel")).status_code == 204

        assert_error(await api.post(f"/api/import/{import_id}/retry"), 409, "IMPORT_NOT_DONE")

    async def test_an_import_without_failures_has_nothing_to_retry(self, api: Api) -> None:
        status = await api.import_records({"products": [product("ALL-GOOD")]})

        response = await api.post(f"/api/import/{status['id']}/retry")

        assert_error(response, 409, "NOTHING_TO_RETRY")
        assert (await api.get("/api/import")).json()["items"][0]["id"] == status["id"]

    async def test_another_integrations_import_is_not_found(self, api: Api, other_api: Api) -> None:
        import_id = await failed_import(api, product("MINE", categories=MISSING))

        assert_error(await other_api.post(f"/api/import/{import_id}/retry"), 404, "IMPORT_NOT_FOUND")
        assert_error(await api.post(f"/api/import/{uuid.uuid4().hex}/retry"), 404, "IMPORT_NOT_FOUND")

    @pytest.mark.parametrize(
        "body",
        [
            pytest.param({"name": ""}, id="empty-name"),
            pytest.param({"name": "x" * 256}, id="long-name"),
            pytest.param({"label": "x"}, id="unknown-field"),
        ],
    )
    async def test_an_invalid_body_is_refused(self, api: Api, body: dict[str, Any]) -> None:
        import_id = await failed_import(api, product("BODY", categories=MISSING))

        response = await api.post(f"/api/import/{import_id}/retry", json=body)

        assert response.status_code == 422, response.text
        assert set(response.json()) <= {"code", "message", "details"}
        assert (await api.status(import_id))["retriedBy"] == []
