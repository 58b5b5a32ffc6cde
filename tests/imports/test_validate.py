"""Validation over HTTP (CONTRACT §9.4): the commit rehearsed as it would run and rolled back — what it
finds is in ``status.validation`` and ``/failures?of=validation``, nothing reaches the catalog or the media
directory, no webhook is sent, and the import stays open to pushes, validations, a commit or a cancel."""

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from catalog_import.models import Import, WebhookDelivery
from tests.factories import Api, assert_error, product
from tests.media.servers import LoopbackServer, Reply

# An id of the import's own for a product number another import creates first: its record fails with
# DUPLICATE_PRODUCT_NUMBER at commit (named by its number alone, it would adopt the other's product).
OWN_ID = "018a6b222b5a734d956fb03dda76c1a5"


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as started:
        yield started


def files_in(api: Api) -> list[Path]:
    """Every file kept in the media directory (temporary files aside)."""
    root = api.settings.media_path
    return sorted(p for p in root.rglob("*") if p.is_file() and "tmp" not in p.relative_to(root).parts)


async def product_numbers(api: Api) -> list[str]:
    response = await api.get("/api/catalog/products", params={"limit": 100})
    return sorted(p["productNumber"] for p in response.json()["items"])


async def catalog_categories(api: Api) -> list[str]:
    response = await api.get("/api/catalog/categories", params={"limit": 100})
    return sorted(c["name"] for c in response.json()["items"])


async def hidden_imports(api: Api) -> int:
    async with api.session_factory() as session:
        return int(await session.scalar(select(func.count()).where(Import.rehearsal_of.is_not(None))) or 0)


async def with_duplicate(api: Api, server: LoopbackServer, **config: Any) -> tuple[str, str]:
    """An import holding a product whose number another import took after the push, beside a fine one
    with a new category and a picture: its id and the picture's URL."""
    picture = server.image("/fine.png")
    import_id = await api.start("validated", **config)
    pushed = await api.push(
        import_id,
        {
            "categories": [{"name": "Rehearsed"}],
            "products": [
                product("DUP-V", id=OWN_ID, name="Mine"),
                product("FINE-V", categories=[{"path": ["Rehearsed"]}], media=[{"url": picture}]),
            ],
        },
    )
    assert not pushed["containsErrors"], pushed
    await api.import_records({"products": [product("DUP-V", name="Theirs")]})
    return import_id, picture


class TestValidate:
    async def test_a_duplicate_product_number_is_found_and_nothing_is_written(
        self, api: Api, server: LoopbackServer
    ) -> None:
        import_id, _picture = await with_duplicate(api, server)
        files_before = files_in(api)

        status = await api.validate_and_run(import_id)

        assert status["status"] == "started"
        validation = status["validation"]
        assert validation["status"] == "done"
        assert validation["startTime"] <= validation["endTime"]
        assert validation["totals"] == {
            "product": 1,
            "media": 1,
            "category": 1,
            "tax": 1,
            "total": 4,
            "failures": 1,
        }
        [failure] = validation["failures"]
        assert (failure["path"], failure["id"]) == ("products.0", OWN_ID)
        assert [d["code"] for d in failure["details"]] == ["DUPLICATE_PRODUCT_NUMBER"]
        assert validation["failuresTruncated"] is False
        # The picture was fetched and checked, and then not kept; nothing reached the catalog.
        assert server.requests("/fine.png") == 1
        assert files_in(api) == files_before
        assert await product_numbers(api) == ["DUP-V"]
        assert (await api.product("DUP-V"))["name"] == "Theirs"
        assert await catalog_categories(api) == []
        # The import's own figures are untouched, and the copy it was rehearsed on is gone.
        assert (status["failures"], status["totals"]["total"], status["commitTime"]) == ([], 0, None)
        assert await hidden_imports(api) == 0

    async def test_failures_of_the_validation_page_through(self, api: Api, server: LoopbackServer) -> None:
        import_id, _picture = await with_duplicate(api, server)
        await api.validate_and_run(import_id)

        response = await api.get(f"/api/import/{import_id}/failures", params={"of": "validation"})
        own = await api.get(f"/api/import/{import_id}/failures")
        with_record = await api.get(
            f"/api/import/{import_id}/failures", params={"of": "validation", "include": "record"}
        )

        assert response.status_code == 200, response.text
        [failure] = response.json()["items"]
        assert failure["path"] == "products.0"
        assert own.json() == {"items": [], "nextCursor": None}
        assert with_record.json()["items"][0]["record"]["productNumber"] == "DUP-V"

    async def test_the_import_stays_open_and_its_commit_does_what_the_validation_said(
        self, api: Api, server: LoopbackServer
    ) -> None:
        import_id, _picture = await with_duplicate(api, server)
        files_before = files_in(api)
        validated = await api.validate_and_run(import_id)
        more = await api.push(import_id, {"products": [product("LATER-V")]})
        assert not more["containsErrors"]

        committed = await api.commit_and_run(import_id)

        assert committed["status"] == "done"
        assert committed["totals"] == {**validated["validation"]["totals"], "product": 2, "total": 5}
        assert [f["path"] for f in committed["failures"]] == ["products.0"]
        assert await product_numbers(api) == ["DUP-V", "FINE-V", "LATER-V"]
        assert len(set(files_in(api)) - set(files_before)) == 1

    async def test_a_validation_covers_the_records_staged_when_it_started(self, api: Api) -> None:
        import_id = await api.start()
        await api.push(import_id, {"products": [product("EARLY-V")]})
        await api.validate(import_id)
        await api.push(import_id, {"products": [product("LATE-V")]})

        await (await api.rehearsal(import_id)).run()

        status = await api.status(import_id)
        assert status["validation"]["totals"]["product"] == 1
        assert status["actions"]["product"]["create"] == 2

    async def test_an_import_with_deletes_is_rehearsed_and_nothing_is_deleted(self, api: Api) -> None:
        await api.import_records(
            {
                "categories": [{"name": "Old shelf"}],
                "products": [product("GONE-V", categories=[{"path": ["Old shelf"]}]), product("KEPT-V")],
            }
        )
        import_id = await api.start()
        await api.push(import_id, {"products": [{"productNumber": "GONE-V"}]}, kind="delete")
        await api.push(import_id, {"categories": [{"path": ["Old shelf"]}]}, kind="delete")
        await api.push(import_id, {"products": [product("KEPT-V", name="Renamed")]})

        status = await api.validate_and_run(import_id)

        assert status["validation"]["status"] == "done"
        assert status["validation"]["failures"] == []
        assert status["validation"]["totals"]["failures"] == 0
        assert await product_numbers(api) == ["GONE-V", "KEPT-V"]
        assert (await api.product("KEPT-V"))["name"] != "Renamed"
        assert await catalog_categories(api) == ["Old shelf"]
        committed = await api.commit_and_run(import_id)
        assert committed["failures"] == []
        assert await product_numbers(api) == ["KEPT-V"]
        assert await catalog_categories(api) == []

    async def test_a_media_that_cannot_be_downloaded_is_found(self, api: Api, server: LoopbackServer) -> None:
        missing = server.serve("/missing.png", Reply(status=404))
        import_id = await api.start()
        await api.push(import_id, {"products": [product("PICTURED-V", media=[{"url": missing}])]})

        status = await api.validate_and_run(import_id)

        [failure] = status["validation"]["failures"]
        assert failure["path"] == "products.0"
        assert "MEDIA_DOWNLOAD_FAILED" in [d["code"] for d in failure["details"]]
        assert await product_numbers(api) == []

    async def test_no_webhook_is_sent(self, api: Api, server: LoopbackServer) -> None:
        hook = server.serve("/hook", Reply(status=204))
        missing = server.serve("/gone.png", Reply(status=404))
        import_id = await api.start(errorWebhookUrl=hook, statusWebhookUrl=hook)
        await api.push(import_id, {"products": [product("HOOKED-V", media=[{"url": missing}])]})

        status = await api.validate_and_run(import_id)

        assert status["validation"]["totals"]["failures"] == 1
        async with api.session_factory() as session:
            deliveries = await session.scalar(select(func.count()).select_from(WebhookDelivery))
        assert deliveries == 0
        assert server.requests("/hook") == 0

    async def test_validated_again_the_latest_replaces_the_earlier(self, api: Api) -> None:
        import_id = await api.start()
        await api.push(import_id, {"products": [product("AGAIN-V")]})
        first = await api.validate_and_run(import_id)
        second = await api.validate_and_run(import_id)

        assert first["validation"]["totals"]["product"] == second["validation"]["totals"]["product"] == 1
        assert second["validation"]["startTime"] > first["validation"]["startTime"]

    async def test_a_validation_that_cannot_run_ends_with_a_critical_failure(self, api: Api) -> None:
        import_id = await api.start()
        await api.push(import_id, {"products": [product("BROKEN-V")]})
        await api.validate(import_id)

        await (await api.rehearsal(import_id)).fail("The validation stopped: something broke")

        validation = (await api.status(import_id))["validation"]
        assert (validation["status"], validation["totals"]["failures"]) == ("done", 1)
        [failure] = validation["failures"]
        assert (failure["entity"], failure["id"]) == ("import", uuid.UUID(import_id).hex)
        [detail] = failure["details"]
        assert (detail["code"], detail["severity"]) == ("VALIDATION_FAILED", "critical")
        assert detail["message"] == "The validation stopped: something broke"
        await api.commit(import_id)


class TestRefused:
    async def test_a_commit_or_a_validation_while_one_runs(self, api: Api) -> None:
        import_id = await api.start()
        await api.push(import_id, {"products": [product("BUSY-V")]})
        await api.validate(import_id)

        running = (await api.status(import_id))["validation"]
        assert (running["status"], running["endTime"], running["failures"]) == ("running", None, [])
        assert_error(await api.post(f"/api/import/{import_id}/validate"), 409, "VALIDATION_RUNNING")
        assert_error(await api.post(f"/api/import/{import_id}/commit"), 409, "VALIDATION_RUNNING")

        await (await api.rehearsal(import_id)).run()
        await api.commit(import_id)

    async def test_a_committed_or_cancelled_import(self, api: Api) -> None:
        done = await api.start()
        await api.commit(done)
        cancelled = await api.start()
        assert (await api.post(f"/api/import/{cancelled}/cancel")).status_code == 204

        assert_error(await api.post(f"/api/import/{done}/validate"), 409, "IMPORT_ALREADY_COMMITTED")
        assert_error(await api.post(f"/api/import/{cancelled}/validate"), 409, "IMPORT_CANCELLED")
        assert_error(await api.post(f"/api/import/{uuid.uuid4().hex}/validate"), 404, "IMPORT_NOT_FOUND")

    async def test_another_integration_s_import(self, api: Api, other_api: Api) -> None:
        import_id = await api.start()

        assert_error(await other_api.post(f"/api/import/{import_id}/validate"), 404, "IMPORT_NOT_FOUND")

    async def test_a_status_before_any_validation(self, api: Api) -> None:
        import_id = await api.start()

        assert (await api.status(import_id))["validation"] is None
