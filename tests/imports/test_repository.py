"""The figures of ``status`` come from the record counts kept beside the records, and agree with a count
of the staged records at every step: pushes that stage a record again, a commit half written, a finished
import, a cancelled one, and an import deleted with its records."""

import uuid
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from catalog_import.committer.repository import CommitRepository
from catalog_import.committer.runner import ImportRunner, Progress, RunnerOptions
from catalog_import.models import Import, ImportRecordCount, RecordState
from tests.factories import Api, product


async def recounted(api: Api, import_id: str) -> dict[str, Any]:
    """``progress`` and the written totals as a count of the staged records gives them."""
    rows = [
        (entity, state, count) for (entity, state), count in (await record_states(api, import_id)).items()
    ]
    return {
        "total": sum(count for _entity, _state, count in rows),
        "processed": sum(count for _entity, state, count in rows if state != RecordState.PENDING),
        "written": {entity: count for entity, state, count in rows if state == RecordState.WRITTEN},
    }


async def record_states(api: Api, import_id: str) -> Counter[tuple[str, str]]:
    """The import's staged records by (entity, state), each record's state as the committer tells it."""
    async with api.session_factory() as session:
        states = await CommitRepository(session).record_states(uuid.UUID(import_id))
    return Counter((record.entity, record.state) for record in states.values())


async def shown(api: Api, import_id: str) -> dict[str, Any]:
    status = await api.status(import_id)
    written = {
        entity: count
        for entity, count in status["totals"].items()
        if entity not in ("total", "failures") and count
    }
    return {
        "total": status["progress"]["total"],
        "processed": status["progress"]["processed"],
        "written": written,
    }


async def count_rows(api: Api, import_id: str) -> int:
    async with api.session_factory() as session:
        statement = select(func.count()).where(ImportRecordCount.import_id == uuid.UUID(import_id))
        return int(await session.scalar(statement) or 0)


class Interrupted(Exception):
    pass


class StopAfterBatches(ImportRunner):
    """A runner that stops once it has written a number of batches, leaving the rest pending."""

    def __init__(self, api: Api, import_id: str, batches: int) -> None:
        super().__init__(
            api.session_factory,
            uuid.UUID(import_id),
            # One lane: it stops after exactly the batches it counted.
            RunnerOptions(batch_size=7, media_lanes=1, wait_seconds=0.001),
        )
        self.batches_left = batches

    async def _write_next_batch(self, *, media_only: bool = False) -> Progress:
        progress = await super()._write_next_batch(media_only=media_only)
        self.batches_left -= 1
        if self.batches_left == 0:
            raise Interrupted()
        return progress


def priced(number: str, **fields: Any) -> dict[str, Any]:
    return product(number, prices=[{"currency": "EUR", "gross": 12.5, "net": 10.5}], **fields)


async def test_status_agrees_with_the_records_from_push_to_done(api: Api) -> None:
    import_id = await api.start(deferReferences=True)
    await api.push(import_id, {"products": [priced(f"P-{n}") for n in range(30)]})
    # Some of the same products again, changed, and new ones: staged again, not twice. Three name a
    # category that never comes, and fail at commit.
    missing = [{"path": ["Nowhere"]}]
    await api.push(
        import_id,
        {
            "products": [priced(f"P-{n}", name="Renamed") for n in range(20, 40)]
            + [priced(f"F-{n}", categories=missing) for n in range(3)]
        },
    )
    pushed = await recounted(api, import_id)
    assert await shown(api, import_id) == pushed
    assert pushed["total"] > 43 and pushed["processed"] == 0

    await api.commit(import_id)
    with pytest.raises(Interrupted):
        await StopAfterBatches(api, import_id, batches=3).run()
    halfway = await recounted(api, import_id)
    assert await shown(api, import_id) == halfway
    assert 0 < halfway["processed"] < halfway["total"]

    status = await api.run(import_id, batch_size=7)

    assert status["status"] == "done"
    assert status["totals"]["failures"] == 3
    done = await recounted(api, import_id)
    assert await shown(api, import_id) == done
    assert done["processed"] == done["total"] == pushed["total"]
    assert done["written"]["product"] == 40
    # A finished import's counts are summed up: a row per entity and state.
    assert await count_rows(api, import_id) == len(await record_states(api, import_id))


async def test_a_cancelled_import_counts_nothing(api: Api) -> None:
    import_id = await api.start()
    await api.push(import_id, {"products": [priced(f"P-{n}") for n in range(5)]})

    response = await api.post(f"/api/import/{import_id}/cancel")

    assert response.status_code == 204
    status = await api.status(import_id)
    assert status["progress"]["total"] == status["progress"]["processed"] == 0


async def test_an_import_deleted_with_its_records_leaves_no_counts(api: Api) -> None:
    import_id = await api.start()
    await api.push(import_id, {"products": [priced(f"P-{n}") for n in range(5)]})
    assert await count_rows(api, import_id) > 0

    async with api.session_factory() as session, session.begin():
        await session.execute(delete(Import).where(Import.id == uuid.UUID(import_id)))

    assert await count_rows(api, import_id) == 0
