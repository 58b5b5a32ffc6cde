"""Requests racing on one import: exactly one of a commit and a cancel wins and the other gets the
contract's error; a push racing a commit is either part of the commit or refused, never lost; pushes into
one import run at once, and a record two of them push is staged once."""

import asyncio
import uuid
from typing import Any

import httpx
import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog_import.imports.body import PushLimits
from catalog_import.imports.service import push
from catalog_import.models import Operation
from tests.factories import Api, assert_error, product

RACES = 8


async def race(api: Api, import_id: str, *actions: str) -> list[httpx.Response]:
    return list(await asyncio.gather(*(api.post(f"/api/import/{import_id}/{action}") for action in actions)))


async def test_commit_and_cancel_one_wins(api: Api) -> None:
    for n in range(RACES):
        import_id = await api.start()
        await api.push(import_id, {"products": [product(f"RACE-{n}")]})
        order = ("commit", "cancel") if n % 2 else ("cancel", "commit")

        responses = dict(zip(order, await race(api, import_id, *order), strict=True))

        committed = responses["commit"].status_code == 204
        cancelled = responses["cancel"].status_code == 204
        assert committed != cancelled, {k: (r.status_code, r.text) for k, r in responses.items()}
        status = (await api.status(import_id))["status"]
        if committed:
            assert_error(responses["cancel"], 409, "IMPORT_ALREADY_COMMITTED")
            assert status in ("importing", "done")
        else:
            assert_error(responses["commit"], 409, "IMPORT_CANCELLED")
            assert status == "cancelled"


async def test_push_racing_a_commit_is_committed_or_refused(api: Api) -> None:
    import_id = await api.start()
    await api.push(import_id, {"products": [product("FIRST")]})
    pushes = [
        api.post(f"/api/import/{import_id}/record", json={"products": [product(f"LATE-{n}")]})
        for n in range(6)
    ]

    commit, *pushed = await asyncio.gather(api.post(f"/api/import/{import_id}/commit"), *pushes)

    assert commit.status_code == 204, commit.text
    accepted = []
    for n, response in enumerate(pushed):
        if response.status_code == 200:
            accepted.append(f"LATE-{n}")
        else:
            assert_error(response, 409, "IMPORT_ALREADY_COMMITTED")
    status: dict[str, Any] = await api.run(import_id)
    assert status["failures"] == []
    assert status["totals"]["product"] == 1 + len(accepted)
    for number in ["FIRST", *accepted]:
        assert (await api.product(number))["productNumber"] == number


# -- pushes into one import at once -------------------------------------------------------------------


async def test_concurrent_pushes_of_the_same_products_stage_each_once(api: Api) -> None:
    import_id = await api.start()
    numbers = [f"SAME-{n}" for n in range(40)]
    bodies = [{"products": [product(number, name=f"take {take}") for number in numbers]} for take in range(6)]

    results = await asyncio.gather(*(api.push(import_id, body) for body in bodies))

    assert sorted(result["batch"] for result in results) == list(range(1, 7))
    for index in range(len(numbers)):
        ids = {result["records"][index]["id"] for result in results}
        assert len(ids) == 1, ids
    status = await api.commit_and_run(import_id)
    assert status["failures"] == []
    assert status["totals"]["product"] == len(numbers)
    for number in numbers:
        assert (await api.product(number))["productNumber"] == number


LOCK_WAIT = """
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE :statement
"""


async def wait_for_lock_wait(session_factory: async_sessionmaker[AsyncSession], statement: str) -> None:
    """Until a backend of this database waits for a lock in a statement starting with ``statement``."""
    for _ in range(500):
        async with session_factory() as session:
            if await session.scalar(text(LOCK_WAIT), {"statement": statement + "%"}):
                return
        await asyncio.sleep(0.01)
    raise AssertionError(f"no statement {statement!r} waits for a lock")


async def integration_of(api: Api, import_id: str) -> uuid.UUID:
    async with api.session_factory() as session:
        found = await session.scalar(
            text("SELECT integration_id FROM imports WHERE id = :id"), {"id": uuid.UUID(import_id)}
        )
    assert isinstance(found, uuid.UUID)
    return found


async def push_in(session: AsyncSession, api: Api, import_id: str, body: Any) -> dict[str, Any]:
    limits = PushLimits(api.settings.max_records_per_push, api.settings.max_staged_records_per_push)
    integration_id = await integration_of(api, import_id)
    body_bytes = orjson.dumps(body)
    result = await push(session, integration_id, uuid.UUID(import_id), body_bytes, limits, Operation.UPSERT)
    return result.model_dump(mode="json", by_alias=True)


async def test_a_push_resolves_its_records_while_another_is_in_flight(api: Api) -> None:
    import_id = await api.start()
    async with api.session_factory() as first, first.begin():
        await push_in(first, api, import_id, {"products": [product("FIRST-1")]})
        # The first push's transaction is open: the second resolves its records all the same and waits
        # only to number itself and stage.
        second = asyncio.create_task(api.push(import_id, {"products": [product("SECOND-1")]}))
        await wait_for_lock_wait(api.session_factory, "UPDATE imports SET batch_count")
    result = await second
    assert result["batch"] == 2
    status = await api.commit_and_run(import_id)
    assert status["totals"]["product"] == 2, (status["totals"], status["failures"])


async def test_a_key_staged_by_another_push_meanwhile_is_taken_as_staged(api: Api) -> None:
    import_id = await api.start()
    async with api.session_factory() as first, first.begin():
        staged = await push_in(first, api, import_id, {"products": [product("RACED", name="first")]})
        # The second push resolves RACED before the first has committed, so as a new product of its own.
        second = asyncio.create_task(api.push(import_id, {"products": [product("RACED", name="second")]}))
        await wait_for_lock_wait(api.session_factory, "UPDATE imports SET batch_count")
    result = await second

    assert result["records"][0]["errors"] == []
    assert result["records"][0]["id"] == staged["records"][0]["id"]
    status = await api.commit_and_run(import_id)
    assert status["totals"]["product"] == 1
    assert (await api.product("RACED"))["name"] == "second"


async def test_a_commit_waits_for_a_push_in_flight(api: Api) -> None:
    import_id = await api.start()
    async with api.session_factory() as pushing, pushing.begin():
        await push_in(pushing, api, import_id, {"products": [product("IN-FLIGHT")]})
        commit = asyncio.create_task(api.post(f"/api/import/{import_id}/commit"))
        await wait_for_lock_wait(api.session_factory, "SELECT imports.id")
    assert (await commit).status_code == 204
    status: dict[str, Any] = await api.run(import_id)
    assert status["totals"]["product"] == 1
