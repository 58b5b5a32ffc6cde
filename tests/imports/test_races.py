"""Requests racing on one import: exactly one of a commit and a cancel wins and the other gets the
contract's error; a push racing a commit is either part of the commit or refused, never lost."""

import asyncio
from typing import Any

import httpx

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
