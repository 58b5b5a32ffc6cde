"""The import lifecycle over HTTP (CONTRACT §2, §5): start, commit, cancel, the state machine's conflicts,
tenancy, the list of imports and the failures of an import."""

import asyncio
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from tests.factories import Api, assert_error, product

HEX_ID = re.compile(r"[0-9a-f]{32}")
START = "/api/import/catalog/start"


def assert_timestamp(value: str) -> datetime:
    """An ISO 8601 timestamp written with the UTC offset."""
    assert value.endswith("+00:00"), value
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() == timedelta(0)
    return parsed


async def pushed_import(api: Api, *numbers: str, **config: Any) -> str:
    """An import with one product staged per number."""
    import_id = await api.start(**config)
    result = await api.push(import_id, {"products": [product(number) for number in numbers]})
    assert not result["containsErrors"], result
    return import_id


async def import_with_failures(api: Api, count: int) -> str:
    """A committed and finished import whose ``count`` products failed at commit: they were staged with
    ``deferReferences`` and name a category that never appears."""
    import_id = await api.start(deferReferences=True)
    body = {
        "products": [
            product(f"FAIL-{index}", categories=[{"path": ["Nowhere", f"Missing {index}"]}])
            for index in range(count)
        ]
    }
    result = await api.push(import_id, body)
    assert not result["containsErrors"], result
    status = await api.commit_and_run(import_id)
    assert status["status"] == "done"
    assert status["totals"]["failures"] == count
    return import_id


async def list_imports(api: Api, **params: Any) -> dict[str, Any]:
    response = await api.get("/api/import", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def list_failures(api: Api, import_id: str, **params: Any) -> dict[str, Any]:
    response = await api.get(f"/api/import/{import_id}/failures", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


class TestStart:
    async def test_answers_the_import(self, api: Api) -> None:
        response = await api.post(START, json={"name": "product-import-20260712"})

        assert response.status_code == 200, response.text
        body = response.json()
        assert list(body) == ["id", "name", "status", "startTime"]
        assert HEX_ID.fullmatch(body["id"])
        assert uuid.UUID(body["id"]).version == 7
        assert body["name"] == "product-import-20260712"
        assert body["status"] == "started"
        started = assert_timestamp(body["startTime"])
        assert abs(started - datetime.now().astimezone()) < timedelta(minutes=1)

    async def test_accepts_every_config_field(self, api: Api) -> None:
        response = await api.post(
            START,
            json={
                "name": "with-webhooks",
                "errorWebhookUrl": "https://hooks.example/errors",
                "statusWebhookUrl": "https://hooks.example/status",
                "deferReferences": True,
            },
        )

        assert response.status_code == 200, response.text
        assert response.json()["status"] == "started"

    async def test_accepts_a_name_of_255_characters(self, api: Api) -> None:
        response = await api.post(START, json={"name": "n" * 255})

        assert response.status_code == 200, response.text
        assert response.json()["name"] == "n" * 255

    @pytest.mark.parametrize(
        "body",
        [
            pytest.param({}, id="missing-name"),
            pytest.param({"name": ""}, id="empty-name"),
            pytest.param({"name": "n" * 256}, id="name-too-long"),
            pytest.param({"name": None}, id="null-name"),
            pytest.param({"name": 12}, id="name-not-a-string"),
            pytest.param({"name": "x", "priority": 1}, id="unknown-field"),
            pytest.param({"name": "x", "errorWebhookUrl": "not a url"}, id="bad-webhook-url"),
            pytest.param({"name": "x", "mediaFailure": "ignore"}, id="unknown-media-failure"),
            pytest.param(["x"], id="not-an-object"),
        ],
    )
    async def test_rejects_an_invalid_config(self, api: Api, body: Any) -> None:
        response = await api.post(START, json=body)

        assert_error(response, 422, "INVALID_IMPORT")

    async def test_rejects_a_body_that_is_not_json(self, api: Api) -> None:
        response = await api.client.post(
            START, content=b"name=x", headers={**api.headers, "Content-Type": "application/json"}
        )

        assert_error(response, 422, "INVALID_IMPORT")

    async def test_invalid_config_names_the_field(self, api: Api) -> None:
        response = await api.post(START, json={"name": "x", "priority": 1})

        body = assert_error(response, 422, "INVALID_IMPORT")
        assert [detail["path"] for detail in body["details"]] == ["priority"]

    async def test_without_idempotency_key_every_start_is_a_new_import(self, api: Api) -> None:
        first = await api.start("same-name")
        second = await api.start("same-name")

        assert first != second

    async def test_same_idempotency_key_returns_the_same_import(self, api: Api) -> None:
        headers = {"Idempotency-Key": "nightly-2026-07-12"}
        first = await api.post(START, json={"name": "nightly"}, headers=headers)
        second = await api.post(START, json={"name": "nightly"}, headers=headers)

        assert first.status_code == second.status_code == 200
        assert second.json() == first.json()
        assert len((await list_imports(api))["items"]) == 1

    @pytest.mark.parametrize(
        "changed",
        [
            {"name": "nightly-2"},
            {"deferReferences": True},
            {"mediaFailure": "skip"},
            {"errorWebhookUrl": "https://hooks.example.com/errors"},
            {"statusWebhookUrl": "https://hooks.example.com/status"},
        ],
    )
    async def test_same_idempotency_key_with_another_body_is_refused(
        self, api: Api, changed: dict[str, object]
    ) -> None:
        headers = {"Idempotency-Key": "nightly-2026-07-13"}
        first = await api.post(START, json={"name": "nightly"}, headers=headers)
        second = await api.post(START, json={"name": "nightly", **changed}, headers=headers)
        third = await api.post(START, json={"name": "nightly"}, headers=headers)

        assert_error(second, 409, "IDEMPOTENCY_KEY_REUSED")
        assert third.json() == first.json()
        assert len((await list_imports(api))["items"]) == 1

    async def test_concurrent_starts_with_one_idempotency_key_make_one_import(self, api: Api) -> None:
        headers = {"Idempotency-Key": "raced"}

        responses = await asyncio.gather(
            *(api.post(START, json={"name": "nightly"}, headers=headers) for _ in range(4))
        )

        assert [response.status_code for response in responses] == [200] * 4
        assert len({response.json()["id"] for response in responses}) == 1
        assert len((await list_imports(api))["items"]) == 1

    async def test_different_idempotency_keys_start_different_imports(self, api: Api) -> None:
        first = await api.post(START, json={"name": "nightly"}, headers={"Idempotency-Key": "a"})
        second = await api.post(START, json={"name": "nightly"}, headers={"Idempotency-Key": "b"})

        assert first.json()["id"] != second.json()["id"]

    async def test_idempotency_key_is_scoped_to_the_integration(self, api: Api, other_api: Api) -> None:
        headers = {"Idempotency-Key": "shared-key"}
        mine = await api.post(START, json={"name": "nightly"}, headers=headers)
        theirs = await other_api.post(START, json={"name": "nightly"}, headers=headers)

        assert mine.status_code == theirs.status_code == 200
        assert mine.json()["id"] != theirs.json()["id"]
        assert (await api.status(mine.json()["id"]))["id"] == mine.json()["id"]
        assert (await other_api.status(theirs.json()["id"]))["id"] == theirs.json()["id"]

    async def test_idempotent_start_returns_the_import_even_after_commit(self, api: Api) -> None:
        headers = {"Idempotency-Key": "committed"}
        first = await api.post(START, json={"name": "nightly"}, headers=headers)
        await api.commit(first.json()["id"])

        again = await api.post(START, json={"name": "nightly"}, headers=headers)

        assert again.status_code == 200
        assert again.json()["id"] == first.json()["id"]

    async def test_requires_a_token(self, api: Api) -> None:
        response = await api.client.post(START, json={"name": "x"})

        assert_error(response, 401, "UNAUTHORIZED")


class TestCommit:
    async def test_answers_204_and_moves_to_importing(self, api: Api) -> None:
        import_id = await pushed_import(api, "P1")

        response = await api.post(f"/api/import/{import_id}/commit")

        assert response.status_code == 204
        assert response.content == b""
        status = await api.status(import_id)
        assert status["status"] == "importing"
        assert_timestamp(status["commitTime"])

    async def test_committed_import_is_written(self, api: Api) -> None:
        import_id = await pushed_import(api, "P1", "P2")

        status = await api.commit_and_run(import_id)

        assert status["status"] == "done"
        assert status["totals"]["product"] == 2
        assert (await api.product("P2"))["name"] == "Product P2"

    async def test_an_empty_import_can_be_committed(self, api: Api) -> None:
        import_id = await api.start()

        status = await api.commit_and_run(import_id)

        assert status["status"] == "done"
        assert status["progress"]["total"] == 0
        assert status["totals"]["total"] == 0

    async def test_second_commit_is_a_conflict(self, api: Api) -> None:
        import_id = await pushed_import(api, "P1")
        await api.commit(import_id)

        response = await api.post(f"/api/import/{import_id}/commit")

        assert_error(response, 409, "IMPORT_ALREADY_COMMITTED")

    async def test_commit_of_a_finished_import_is_a_conflict(self, api: Api) -> None:
        import_id = await pushed_import(api, "P1")
        await api.commit_and_run(import_id)

        response = await api.post(f"/api/import/{import_id}/commit")

        assert_error(response, 409, "IMPORT_ALREADY_COMMITTED")

    async def test_commit_of_a_cancelled_import_is_a_conflict(self, api: Api) -> None:
        import_id = await pushed_import(api, "P1")
        await api.post(f"/api/import/{import_id}/cancel")

        response = await api.post(f"/api/import/{import_id}/commit")

        assert_error(response, 409, "IMPORT_CANCELLED")

    async def test_unknown_import_is_not_found(self, api: Api) -> None:
        response = await api.post(f"/api/import/{uuid.uuid4().hex}/commit")

        assert_error(response, 404, "IMPORT_NOT_FOUND")

    async def test_accepts_the_dashed_id(self, api: Api) -> None:
        import_id = await pushed_import(api, "P1")

        response = await api.post(f"/api/import/{uuid.UUID(import_id)}/commit")

        assert response.status_code == 204
        assert (await api.status(import_id))["status"] == "importing"


def actions(**counts: dict[str, int]) -> dict[str, dict[str, int]]:
    """``status.actions`` for these counts (the actions not given are 0)."""
    zero = {"create": 0, "update": 0, "delete": 0, "unassign": 0}
    return {entity: {**zero, **given} for entity, given in counts.items()}


class TestActions:
    """``status.actions`` (CONTRACT §9.3): what the staged records will do, known before the commit."""

    async def test_an_import_without_records_has_no_actions(self, api: Api) -> None:
        assert (await api.status(await api.start()))["actions"] == {}

    async def test_the_first_push_shows_what_the_commit_will_create(self, api: Api) -> None:
        import_id = await pushed_import(api, "A1", "A2")
        # Two products and the tax they create (nested: one record, named by both).
        assert (await api.status(import_id))["actions"] == actions(product={"create": 2}, tax={"create": 1})

    async def test_updates_deletes_and_unassigns_are_counted_apart(self, api: Api) -> None:
        await api.import_records({"products": [product("A1"), product("A2")], "categories": [{"name": "C"}]})
        import_id = await api.start()
        await api.push(import_id, {"products": [{"productNumber": "A1", "name": "Renamed"}, product("A3")]})
        await api.push(import_id, {"products": [{"productNumber": "A2"}]}, "delete")
        await api.push(
            import_id, {"products": [{"productNumber": "A1", "categories": [{"path": ["C"]}]}]}, "unassign"
        )

        status = await api.status(import_id)

        # A3's tax exists by now: it is looked up, not staged.
        assert status["actions"] == actions(product={"create": 1, "update": 1, "delete": 1, "unassign": 1})
        listed = (await list_imports(api))["items"]
        assert next(item for item in listed if item["id"] == status["id"])["actions"] == status["actions"]

    async def test_a_record_pushed_again_is_counted_once(self, api: Api) -> None:
        import_id = await pushed_import(api, "A1")
        await api.push(import_id, {"products": [product("A1", name="Again")]})
        assert (await api.status(import_id))["actions"] == actions(product={"create": 1}, tax={"create": 1})

    async def test_actions_stay_as_they_were_through_the_commit(self, api: Api) -> None:
        import_id = await pushed_import(api, "A1", "A2")
        status = await api.commit_and_run(import_id)
        assert status["status"] == "done"
        assert status["actions"] == actions(product={"create": 2}, tax={"create": 1})

    async def test_a_cancelled_import_has_no_actions_left(self, api: Api) -> None:
        import_id = await pushed_import(api, "A1")
        await api.post(f"/api/import/{import_id}/cancel")
        assert (await api.status(import_id))["actions"] == {}


class TestStalled:
    """``lastProgressAt`` and ``stalled`` (CONTRACT §9.5); the tests' ``STALLED_AFTER_SECONDS`` is 5."""

    async def set_back(self, api: Api, import_id: str, seconds: float) -> None:
        """As if the import had been committed, and last made progress, ``seconds`` ago."""
        async with api.session_factory() as session, session.begin():
            await session.execute(
                text(
                    "UPDATE imports SET commit_time = now() - make_interval(secs => :seconds), "
                    "heartbeat_at = now() - make_interval(secs => :seconds) WHERE id = :id"
                ),
                {"seconds": seconds, "id": uuid.UUID(import_id)},
            )

    async def test_an_import_not_committed_has_no_progress_to_show(self, api: Api) -> None:
        status = await api.status(await pushed_import(api, "S1"))
        assert (status["lastProgressAt"], status["stalled"]) == (None, False)

    async def test_a_committed_import_shows_its_commit_as_its_last_progress(self, api: Api) -> None:
        import_id = await pushed_import(api, "S1")
        await api.commit(import_id)
        status = await api.status(import_id)
        assert status["lastProgressAt"] == status["commitTime"]
        assert status["stalled"] is False

    async def test_an_import_without_progress_for_the_period_is_stalled(self, api: Api) -> None:
        import_id = await pushed_import(api, "S1")
        await api.commit(import_id)
        await self.set_back(api, import_id, 4)
        assert (await api.status(import_id))["stalled"] is False
        await self.set_back(api, import_id, 6)

        status = await api.status(import_id)
        assert status["status"] == "importing"
        assert status["stalled"] is True
        last = assert_timestamp(status["lastProgressAt"])
        assert timedelta(seconds=5) < datetime.now(last.tzinfo) - last < timedelta(seconds=60)
        (listed,) = [item for item in (await list_imports(api))["items"] if item["id"] == status["id"]]
        assert (listed["stalled"], listed["lastProgressAt"]) == (True, status["lastProgressAt"])

        # Written at last, it is done and no longer stalled.
        done = await api.run(import_id)
        assert done["status"] == "done"
        assert (done["lastProgressAt"], done["stalled"]) == (None, False)


class TestCancel:
    async def test_answers_204_and_marks_the_import_cancelled(self, api: Api) -> None:
        import_id = await pushed_import(api, "P1")

        response = await api.post(f"/api/import/{import_id}/cancel")

        assert response.status_code == 204
        assert response.content == b""
        status = await api.status(import_id)
        assert status["status"] == "cancelled"
        assert status["commitTime"] is None
        assert status["duration"] == 0

    async def test_cancel_again_answers_204(self, api: Api) -> None:
        import_id = await pushed_import(api, "P1")
        await api.post(f"/api/import/{import_id}/cancel")

        response = await api.post(f"/api/import/{import_id}/cancel")

        assert response.status_code == 204
        assert (await api.status(import_id))["status"] == "cancelled"

    async def test_deletes_the_pushed_records(self, api: Api) -> None:
        import_id = await pushed_import(api, "P1", "P2")
        assert (await api.status(import_id))["progress"]["total"] == 3  # two products and their tax

        await api.post(f"/api/import/{import_id}/cancel")

        status = await api.status(import_id)
        assert status["progress"] == {"total": 0, "processed": 0, "level": None, "levels": None}
        products = await api.get("/api/catalog/products", params={"productNumber": "P1"})
        assert products.json()["items"] == []

    async def test_cancel_after_commit_is_a_conflict(self, api: Api) -> None:
        import_id = await pushed_import(api, "P1")
        await api.commit(import_id)

        response = await api.post(f"/api/import/{import_id}/cancel")

        assert_error(response, 409, "IMPORT_ALREADY_COMMITTED")
        assert (await api.status(import_id))["status"] == "importing"

    async def test_cancel_of_a_finished_import_is_a_conflict(self, api: Api) -> None:
        import_id = await pushed_import(api, "P1")
        await api.commit_and_run(import_id)

        response = await api.post(f"/api/import/{import_id}/cancel")

        assert_error(response, 409, "IMPORT_ALREADY_COMMITTED")
        assert (await api.status(import_id))["status"] == "done"

    async def test_unknown_import_is_not_found(self, api: Api) -> None:
        response = await api.post(f"/api/import/{uuid.uuid4().hex}/cancel")

        assert_error(response, 404, "IMPORT_NOT_FOUND")


class TestPushAfterTheEnd:
    @pytest.mark.parametrize(
        ("suffix", "body"),
        [
            pytest.param("record", {"products": [product("P9")]}, id="record"),
            pytest.param("record/delete", {"products": [{"productNumber": "P1"}]}, id="delete"),
            pytest.param("record/unassign", {"products": [{"productNumber": "P1"}]}, id="unassign"),
        ],
    )
    async def test_push_after_commit_is_a_conflict(self, api: Api, suffix: str, body: Any) -> None:
        import_id = await pushed_import(api, "P1")
        await api.commit(import_id)

        response = await api.post(f"/api/import/{import_id}/{suffix}", json=body)

        assert_error(response, 409, "IMPORT_ALREADY_COMMITTED")

    @pytest.mark.parametrize(
        ("suffix", "body"),
        [
            pytest.param("record", {"products": [product("P9")]}, id="record"),
            pytest.param("record/delete", {"products": [{"productNumber": "P1"}]}, id="delete"),
            pytest.param("record/unassign", {"products": [{"productNumber": "P1"}]}, id="unassign"),
        ],
    )
    async def test_push_after_cancel_is_a_conflict(self, api: Api, suffix: str, body: Any) -> None:
        import_id = await pushed_import(api, "P1")
        await api.post(f"/api/import/{import_id}/cancel")

        response = await api.post(f"/api/import/{import_id}/{suffix}", json=body)

        assert_error(response, 409, "IMPORT_CANCELLED")

    async def test_push_after_the_import_finished_is_a_conflict(self, api: Api) -> None:
        import_id = await pushed_import(api, "P1")
        await api.commit_and_run(import_id)

        response = await api.post(f"/api/import/{import_id}/record", json={"products": [product("P2")]})

        assert_error(response, 409, "IMPORT_ALREADY_COMMITTED")

    async def test_lifecycle_conflict_wins_over_a_malformed_body(self, api: Api) -> None:
        import_id = await pushed_import(api, "P1")
        await api.commit(import_id)

        response = await api.post(f"/api/import/{import_id}/record", json=["not", "an", "object"])

        assert_error(response, 409, "IMPORT_ALREADY_COMMITTED")

    @pytest.mark.parametrize("suffix", ["record", "record/delete", "record/unassign"])
    async def test_push_to_an_unknown_import_is_not_found(self, api: Api, suffix: str) -> None:
        response = await api.post(f"/api/import/{uuid.uuid4().hex}/{suffix}", json={"products": []})

        assert_error(response, 404, "IMPORT_NOT_FOUND")


class TestTenancy:
    @pytest.mark.parametrize(
        ("method", "suffix", "body"),
        [
            pytest.param("POST", "record", {"products": [product("X1")]}, id="record"),
            pytest.param("POST", "record/delete", {"products": [{"productNumber": "P1"}]}, id="delete"),
            pytest.param("POST", "record/unassign", {"products": [{"productNumber": "P1"}]}, id="unassign"),
            pytest.param("POST", "commit", None, id="commit"),
            pytest.param("POST", "cancel", None, id="cancel"),
            pytest.param("GET", "status", None, id="get-status"),
            pytest.param("POST", "status", None, id="post-status"),
            pytest.param("GET", "failures", None, id="failures"),
        ],
    )
    async def test_another_integration_gets_not_found(
        self, api: Api, other_api: Api, method: str, suffix: str, body: Any
    ) -> None:
        import_id = await pushed_import(api, "P1")

        if method == "GET":
            response = await other_api.get(f"/api/import/{import_id}/{suffix}")
        else:
            response = await other_api.post(f"/api/import/{import_id}/{suffix}", json=body)

        assert_error(response, 404, "IMPORT_NOT_FOUND")
        status = await api.status(import_id)
        assert status["status"] == "started"
        assert status["progress"]["total"] == 2

    async def test_another_integration_does_not_see_the_import_in_lists(
        self, api: Api, other_api: Api
    ) -> None:
        mine = await api.start("mine")
        theirs = await other_api.start("theirs")

        assert [item["id"] for item in (await list_imports(api))["items"]] == [mine]
        assert [item["id"] for item in (await list_imports(other_api))["items"]] == [theirs]

    async def test_the_owner_keeps_access_after_another_integration_tried(
        self, api: Api, other_api: Api
    ) -> None:
        import_id = await pushed_import(api, "P1")
        await other_api.post(f"/api/import/{import_id}/cancel")

        await api.commit(import_id)

        assert (await api.run(import_id))["status"] == "done"


class TestStatus:
    async def test_before_commit(self, api: Api) -> None:
        import_id = await api.start("fresh")
        started = (await api.post(START, json={"name": "other"})).json()

        status = await api.status(import_id)

        assert status["id"] == import_id
        assert status["name"] == "fresh"
        assert status["status"] == "started"
        assert_timestamp(status["startTime"])
        assert status["commitTime"] is None
        assert status["endTime"] is None
        assert status["duration"] == 0
        assert status["progress"] == {"total": 0, "processed": 0, "level": None, "levels": None}
        assert status["totals"] == {
            "product": 0,
            "media": 0,
            "category": 0,
            "tax": 0,
            "total": 0,
            "failures": 0,
        }
        assert status["failures"] == []
        assert status["failuresTruncated"] is False
        assert started["id"] != import_id

    async def test_keys(self, api: Api) -> None:
        import_id = await api.start()

        status = await api.status(import_id)

        assert list(status) == [
            "id",
            "name",
            "status",
            "startTime",
            "commitTime",
            "endTime",
            "duration",
            "progress",
            "totals",
            "webhooks",
            "actions",
            "lastProgressAt",
            "stalled",
            "retryOf",
            "retriedBy",
            "failures",
            "failuresTruncated",
            "validation",
        ]

    async def test_counts_staged_records_before_commit(self, api: Api) -> None:
        import_id = await pushed_import(api, "P1", "P2", "P3")

        status = await api.status(import_id)

        # Three products and the tax they create.
        assert status["progress"]["total"] == 4
        assert status["progress"]["processed"] == 0
        assert status["totals"]["total"] == 0
        assert status["duration"] == 0

    async def test_post_answers_the_same_as_get(self, api: Api) -> None:
        import_id = await pushed_import(api, "P1")

        got = await api.get(f"/api/import/{import_id}/status")
        posted = await api.post(f"/api/import/{import_id}/status")

        assert posted.status_code == 200
        assert posted.json() == got.json()

    async def test_after_the_import_is_done(self, api: Api) -> None:
        import_id = await pushed_import(api, "P1", "P2")

        status = await api.commit_and_run(import_id)

        assert status["status"] == "done"
        commit_time = assert_timestamp(status["commitTime"])
        end_time = assert_timestamp(status["endTime"])
        assert end_time >= commit_time
        assert status["duration"] == pytest.approx((end_time - commit_time).total_seconds(), abs=0.01)
        assert status["progress"]["total"] == status["progress"]["processed"] == 3
        assert status["progress"]["level"] is None
        assert status["totals"] == {
            "product": 2,
            "media": 0,
            "category": 0,
            "tax": 1,
            "total": 3,
            "failures": 0,
        }

    async def test_failures_of_a_finished_import(self, api: Api) -> None:
        import_id = await import_with_failures(api, 1)

        status = await api.status(import_id)

        assert status["failuresTruncated"] is False
        [failure] = status["failures"]
        assert HEX_ID.fullmatch(failure["id"])
        assert failure["entity"] == "product"
        assert failure["path"] == "products.0"
        assert failure["batch"] == 1
        assert failure["details"] == [
            {
                "severity": "error",
                "severityCode": 3,
                "code": "CATEGORY_NOT_FOUND",
                "entity": "product",
                "path": "products.0.categories.0",
                "message": "Category Nowhere/Missing 0 not found",
            }
        ]

    async def test_unknown_import_is_not_found(self, api: Api) -> None:
        response = await api.get(f"/api/import/{uuid.uuid4().hex}/status")

        assert_error(response, 404, "IMPORT_NOT_FOUND")

    async def test_malformed_id_is_refused_with_the_envelope(self, api: Api) -> None:
        response = await api.get("/api/import/not-a-uuid/status")

        assert response.status_code in (404, 422), response.text
        assert set(response.json()) <= {"code", "message", "details"}
        assert response.json()["code"]


class TestList:
    async def test_newest_first(self, api: Api) -> None:
        ids = [await api.start(f"import-{index}") for index in range(3)]

        page = await list_imports(api)

        assert [item["id"] for item in page["items"]] == ids[::-1]
        assert [item["name"] for item in page["items"]] == ["import-2", "import-1", "import-0"]
        assert page["nextCursor"] is None

    async def test_items_are_status_without_failures(self, api: Api) -> None:
        import_id = await pushed_import(api, "P1")

        [item] = (await list_imports(api))["items"]

        status = await api.status(import_id)
        del status["failures"], status["failuresTruncated"], status["validation"]
        assert item == status

    async def test_pages_with_limit_and_cursor(self, api: Api) -> None:
        ids = [await api.start(f"import-{index}") for index in range(5)]

        first = await list_imports(api, limit=2)
        second = await list_imports(api, limit=2, cursor=first["nextCursor"])
        third = await list_imports(api, limit=2, cursor=second["nextCursor"])

        assert [item["id"] for item in first["items"]] == [ids[4], ids[3]]
        assert [item["id"] for item in second["items"]] == [ids[2], ids[1]]
        assert [item["id"] for item in third["items"]] == [ids[0]]
        assert isinstance(first["nextCursor"], str)
        assert isinstance(second["nextCursor"], str)
        assert third["nextCursor"] is None

    async def test_a_full_last_page_has_no_cursor(self, api: Api) -> None:
        for index in range(2):
            await api.start(f"import-{index}")

        page = await list_imports(api, limit=2)

        assert len(page["items"]) == 2
        assert page["nextCursor"] is None

    async def test_filters_by_status(self, api: Api) -> None:
        started = await api.start("started")
        cancelled = await api.start("cancelled")
        await api.post(f"/api/import/{cancelled}/cancel")
        importing = await api.start("importing")
        await api.commit(importing)
        done = await api.start("done")
        await api.commit_and_run(done)

        for status, expected in (
            ("started", started),
            ("cancelled", cancelled),
            ("importing", importing),
            ("done", done),
        ):
            page = await list_imports(api, status=status)
            assert [item["id"] for item in page["items"]] == [expected], status
            assert page["items"][0]["status"] == status

    async def test_status_filter_pages(self, api: Api) -> None:
        kept = []
        for index in range(4):
            import_id = await api.start(f"import-{index}")
            if index % 2 == 0:
                await api.post(f"/api/import/{import_id}/cancel")
            else:
                kept.append(import_id)

        first = await list_imports(api, status="started", limit=1)
        second = await list_imports(api, status="started", limit=1, cursor=first["nextCursor"])

        assert [item["id"] for item in first["items"]] == [kept[1]]
        assert [item["id"] for item in second["items"]] == [kept[0]]
        assert second["nextCursor"] is None

    async def test_empty(self, api: Api) -> None:
        assert await list_imports(api) == {"items": [], "nextCursor": None}

    @pytest.mark.parametrize(
        "params",
        [
            pytest.param({"status": "finished"}, id="unknown-status"),
            pytest.param({"limit": 0}, id="limit-zero"),
            pytest.param({"limit": "many"}, id="limit-not-a-number"),
            pytest.param({"cursor": "%%%"}, id="bad-cursor"),
        ],
    )
    async def test_invalid_parameters(self, api: Api, params: dict[str, Any]) -> None:
        response = await api.get("/api/import", params=params)

        assert response.status_code == 422, response.text
        assert set(response.json()) <= {"code", "message", "details"}
        assert response.json()["message"]


class TestFailures:
    async def test_lists_every_failure_in_the_order_found(self, api: Api) -> None:
        import_id = await import_with_failures(api, 3)

        page = await list_failures(api, import_id)

        assert page["nextCursor"] is None
        assert [failure["path"] for failure in page["items"]] == ["products.0", "products.1", "products.2"]
        assert page["items"] == (await api.status(import_id))["failures"]
        for failure in page["items"]:
            assert [detail["code"] for detail in failure["details"]] == ["CATEGORY_NOT_FOUND"]
            assert failure["details"][0]["severity"] == "error"
            assert failure["details"][0]["severityCode"] == 3

    async def test_pages_with_limit_and_cursor(self, api: Api) -> None:
        import_id = await import_with_failures(api, 3)

        first = await list_failures(api, import_id, limit=2)
        second = await list_failures(api, import_id, limit=2, cursor=first["nextCursor"])

        assert [failure["path"] for failure in first["items"]] == ["products.0", "products.1"]
        assert isinstance(first["nextCursor"], str)
        assert [failure["path"] for failure in second["items"]] == ["products.2"]
        assert second["nextCursor"] is None

    @pytest.mark.parametrize(
        ("min_severity", "count"),
        [
            pytest.param("debug", 2, id="debug"),
            pytest.param("warning", 2, id="warning"),
            pytest.param("error", 2, id="error"),
            pytest.param("3", 2, id="error-by-number"),
            pytest.param("critical", 0, id="critical"),
            pytest.param("2", 0, id="critical-by-number"),
            pytest.param("emergency", 0, id="emergency"),
        ],
    )
    async def test_min_severity(self, api: Api, min_severity: str, count: int) -> None:
        import_id = await import_with_failures(api, 2)

        page = await list_failures(api, import_id, minSeverity=min_severity)

        assert len(page["items"]) == count
        assert page["nextCursor"] is None

    async def test_none_before_commit(self, api: Api) -> None:
        import_id = await pushed_import(api, "P1")

        assert await list_failures(api, import_id) == {"items": [], "nextCursor": None}

    async def test_a_successful_import_has_none(self, api: Api) -> None:
        import_id = await pushed_import(api, "P1")
        await api.commit_and_run(import_id)

        assert await list_failures(api, import_id) == {"items": [], "nextCursor": None}

    async def test_only_the_failed_record_fails(self, api: Api) -> None:
        import_id = await api.start(deferReferences=True)
        body = {"products": [product("GOOD"), product("BAD", categories=[{"path": ["Never"]}])]}
        result = await api.push(import_id, body)
        assert result["containsErrors"] is False

        status = await api.commit_and_run(import_id)

        assert status["totals"]["product"] == 1
        assert status["totals"]["failures"] == 1
        [failure] = (await list_failures(api, import_id))["items"]
        assert failure["path"] == "products.1"
        assert failure["id"] == result["records"][1]["id"]
        assert (await api.product("GOOD"))["name"] == "Product GOOD"
        missing = await api.get("/api/catalog/products", params={"productNumber": "BAD"})
        assert missing.json()["items"] == []

    async def test_failure_carries_the_batch_of_its_push(self, api: Api) -> None:
        import_id = await api.start(deferReferences=True)
        await api.push(import_id, {"products": [product("P1")]})
        await api.push(import_id, {"products": [product("P2", categories=[{"path": ["Never"]}])]})

        await api.commit_and_run(import_id)

        [failure] = (await list_failures(api, import_id))["items"]
        assert failure["batch"] == 2
        assert failure["path"] == "products.0"

    @pytest.mark.parametrize(
        "params",
        [
            pytest.param({"minSeverity": "loud"}, id="unknown-severity"),
            pytest.param({"minSeverity": "9"}, id="severity-out-of-range"),
            pytest.param({"limit": 0}, id="limit-zero"),
            pytest.param({"cursor": "!!"}, id="bad-cursor"),
            pytest.param({"include": "records"}, id="unknown-include"),
        ],
    )
    async def test_invalid_parameters(self, api: Api, params: dict[str, Any]) -> None:
        import_id = await api.start()

        response = await api.get(f"/api/import/{import_id}/failures", params=params)

        assert response.status_code == 422, response.text
        assert set(response.json()) <= {"code", "message", "details"}
        assert response.json()["message"]

    async def test_unknown_import_is_not_found(self, api: Api) -> None:
        response = await api.get(f"/api/import/{uuid.uuid4().hex}/failures")

        assert_error(response, 404, "IMPORT_NOT_FOUND")


class TestFailedRecordsAsPushed:
    async def test_each_failure_carries_its_record_as_pushed(self, api: Api) -> None:
        import_id = await api.start(deferReferences=True)
        pushed = [
            {
                "productNumber": "FIRST",
                "name": "First",
                "stock": 3,
                "customFields": {"colour": "red", "sizes": [1, 2.5, None], "note": "ünïcode"},
                "categories": [{"path": ["Nowhere"]}],
                "prices": [{"currency": "EUR", "gross": 19.99, "net": 16.8, "linked": False}],
                "tax": {"name": "Standard rate", "taxRate": 19},
            },
            {
                "categories": [{"path": ["Nowhere", "Else"]}],
                **product("SECOND", name="Second"),
            },
        ]
        result = await api.push(import_id, {"products": pushed})
        assert not result["containsErrors"], result
        await api.commit_and_run(import_id)

        page = await list_failures(api, import_id, include="record")

        assert [failure["record"] for failure in page["items"]] == pushed
        # As it was pushed, down to the order of its fields.
        assert [list(failure["record"]) for failure in page["items"]] == [list(r) for r in pushed]

    async def test_without_include_failures_have_no_record(self, api: Api) -> None:
        import_id = await import_with_failures(api, 1)

        [failure] = (await list_failures(api, import_id))["items"]
        [in_status] = (await api.status(import_id))["failures"]

        assert "record" not in failure
        assert "record" not in in_status

    async def test_a_record_pushed_again_is_given_as_last_pushed(self, api: Api) -> None:
        import_id = await api.start(deferReferences=True)
        await api.push(import_id, {"products": [product("AGAIN", name="First try")]})
        second = product("AGAIN", name="Second try", categories=[{"path": ["Never"]}])
        await api.push(import_id, {"products": [product("OTHER"), second]})
        await api.commit_and_run(import_id)

        [failure] = (await list_failures(api, import_id, include="record"))["items"]

        assert (failure["batch"], failure["path"]) == (2, "products.1")
        assert failure["record"] == second

    async def test_a_failed_delete_carries_the_item_it_was_pushed_as(self, api: Api) -> None:
        await api.import_records({"products": [product("USES", tax={"name": "Kept", "taxRate": 7})]})
        import_id = await api.start()
        await api.push(import_id, {"taxes": [{"name": "Kept"}]}, kind="delete")
        await api.commit_and_run(import_id)

        [failure] = (await list_failures(api, import_id, include="record"))["items"]

        assert failure["details"][0]["code"] == "TAX_IN_USE"
        assert failure["record"] == {"name": "Kept"}


class TestRequestChecksInOrder:
    async def test_snake_case_config_fields_are_unknown(self, api: Api) -> None:
        response = await api.post("/api/import/catalog/start", json={"name": "x", "defer_references": True})

        assert response.status_code == 422
        assert response.json()["code"] == "INVALID_IMPORT"

    async def test_another_integrations_import_is_not_found_whatever_the_body(
        self, api: Api, other_api: Api
    ) -> None:
        import_id = await api.start()

        response = await other_api.client.post(
            f"/api/import/{import_id}/record", content=b"not json", headers=other_api.headers
        )

        assert response.status_code == 404
        assert response.json()["code"] == "IMPORT_NOT_FOUND"

    async def test_a_committed_import_refuses_even_a_malformed_body(self, api: Api) -> None:
        import_id = await api.start()
        await api.commit(import_id)

        response = await api.client.post(f"/api/import/{import_id}/record", content=b"{", headers=api.headers)

        assert response.status_code == 409
        assert response.json()["code"] == "IMPORT_ALREADY_COMMITTED"


class TestCursors:
    @pytest.mark.parametrize("cursor", ["WyJ6enoiXQ", "W251bGxd", "WzVd", "not-a-cursor", "W10"])
    async def test_an_import_list_cursor_not_made_by_the_server_is_refused(
        self, api: Api, cursor: str
    ) -> None:
        response = await api.get("/api/import", params={"cursor": cursor})

        assert response.status_code == 422, response.text
        assert response.json()["code"] == "INVALID_CURSOR"

    @pytest.mark.parametrize("cursor", ["WyJ6enoiXQ", "W251bGxd", "WyJhIl0", "not-a-cursor", "W10"])
    async def test_a_failures_cursor_not_made_by_the_server_is_refused(self, api: Api, cursor: str) -> None:
        import_id = await api.start()

        response = await api.get(f"/api/import/{import_id}/failures", params={"cursor": cursor})

        assert response.status_code == 422, response.text
        assert response.json()["code"] == "INVALID_CURSOR"
