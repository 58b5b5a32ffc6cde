"""The event stream of an import (``GET /api/import/{id}/events``) as a dashboard reads it: progress while it
runs, failures as they are recorded, the final status, then the end of the stream; resuming after the
last failure seen with ``Last-Event-ID``."""

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from tests.factories import Api, assert_error, product
from tests.live import live_client


def parse_events(text: str) -> list[dict[str, Any]]:
    """Server-Sent Events as ``{"event", "id", "data"}`` (data parsed as JSON); comments are skipped."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, Any] = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        if "data" in fields:
            fields["data"] = json.loads(fields["data"])
            events.append(fields)
    return events


async def stream_events(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """Events as they arrive on a streamed response."""
    buffer = ""
    async for chunk in response.aiter_text():
        buffer += chunk.replace("\r\n", "\n")
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            for event in parse_events(block + "\n\n"):
                yield event


async def done_import_with_failures(api: Api, failing: int) -> str:
    """A done import with one product written and ``failing`` failed (their tax is unknown)."""
    import_id = await api.start("streamed", deferReferences=True)
    products = [product("EV-OK")] + [product(f"EV-{n}", tax={"name": "Unknown"}) for n in range(failing)]
    await api.push(import_id, {"products": products})
    status = await api.commit_and_run(import_id)
    assert status["totals"]["failures"] == failing
    return import_id


async def test_a_finished_import_streams_its_failures_and_final_status(api: Api) -> None:
    import_id = await done_import_with_failures(api, failing=2)
    response = await api.get(f"/api/import/{import_id}/events")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    events = parse_events(response.text)

    assert [e["event"] for e in events] == ["failures", "progress", "end"]
    failures, progress, end = events
    listed = (await api.get(f"/api/import/{import_id}/failures")).json()["items"]
    assert failures["data"] == {"type": "import.failures", "importId": import_id, "failures": listed}
    assert failures["id"].isdigit()
    status = await api.status(import_id)
    expected = {k: v for k, v in status.items() if k not in ("failures", "failuresTruncated", "validation")}
    assert end["data"] == expected
    assert progress["data"] == expected


async def test_last_event_id_resumes_after_the_failures_seen(api: Api) -> None:
    import_id = await done_import_with_failures(api, failing=102)
    first = parse_events((await api.get(f"/api/import/{import_id}/events")).text)
    pages = [e for e in first if e["event"] == "failures"]
    assert [len(e["data"]["failures"]) for e in pages] == [100, 2]

    again = parse_events(
        (await api.get(f"/api/import/{import_id}/events", headers={"Last-Event-ID": pages[0]["id"]})).text
    )
    assert [e["event"] for e in again] == ["failures", "progress", "end"]
    assert again[0]["data"]["failures"] == pages[1]["data"]["failures"]
    rest = parse_events(
        (await api.get(f"/api/import/{import_id}/events", headers={"Last-Event-ID": pages[1]["id"]})).text
    )
    assert [e["event"] for e in rest] == ["progress", "end"]


async def test_failure_numbers_count_per_import(api: Api, other_api: Api) -> None:
    # Another integration's failures, recorded first, leave no trace in this import's numbers.
    await done_import_with_failures(other_api, failing=3)
    import_id = await done_import_with_failures(api, failing=2)

    events = parse_events((await api.get(f"/api/import/{import_id}/events")).text)
    first_page = (await api.get(f"/api/import/{import_id}/failures", params={"limit": 1})).json()

    assert [e["id"] for e in events if e["event"] == "failures"] == ["2"]
    second_page = await api.get(
        f"/api/import/{import_id}/failures", params={"limit": 1, "cursor": first_page["nextCursor"]}
    )
    assert [f["path"] for f in first_page["items"] + second_page.json()["items"]] == [
        "products.1",
        "products.2",
    ]
    resumed = parse_events(
        (await api.get(f"/api/import/{import_id}/events", headers={"Last-Event-ID": "1"})).text
    )
    assert [len(e["data"]["failures"]) for e in resumed if e["event"] == "failures"] == [1]


async def test_unknown_and_foreign_imports_are_not_found(api: Api, other_api: Api) -> None:
    import_id = await api.start()
    assert_error(await other_api.get(f"/api/import/{import_id}/events"), 404, "IMPORT_NOT_FOUND")
    assert_error(await api.get(f"/api/import/{'0' * 32}/events"), 404, "IMPORT_NOT_FOUND")
    assert_error(await api.client.get(f"/api/import/{import_id}/events"), 401, "UNAUTHORIZED")


async def test_a_live_stream_follows_an_import_to_its_end(live_server: str) -> None:
    async with live_client(live_server, timeout=60) as client:
        import_id = (await client.post("/api/import/catalog/start", json={"name": "live events"})).json()[
            "id"
        ]
        await client.post(
            f"/api/import/{import_id}/record",
            json={"products": [product("EV-L1"), product("EV-L2", tax={"name": "Unknown"})]},
        )
        seen: list[dict[str, Any]] = []
        async with client.stream("GET", f"/api/import/{import_id}/events") as response:
            assert response.status_code == 200
            async for event in stream_events(response):
                seen.append(event)
                if len(seen) == 1:
                    # The stream is open on an import not committed yet; committing it moves it on.
                    assert (event["event"], event["data"]["status"]) == ("progress", "started")
                    assert (await client.post(f"/api/import/{import_id}/commit")).status_code == 204
        # The stream closed by itself after the final status.
        assert seen[-1]["event"] == "end"
        assert seen[-1]["data"]["status"] == "done"
        assert seen[-1]["data"]["totals"]["product"] == 1
        statuses = [e["data"]["status"] for e in seen if e["event"] == "progress"]
        assert statuses[0] == "started" and statuses[-1] == "done"
