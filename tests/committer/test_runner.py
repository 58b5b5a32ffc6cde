"""Runners of one import: any number may work on it at once, a runner that stops half-way loses nothing,
and whoever runs next finishes it without writing anything twice."""

import asyncio
import uuid
from collections import Counter

import pytest

from catalog_import.committer.repository import CommitRepository
from catalog_import.committer.runner import ImportRunner, Progress, RunnerOptions
from tests.committer.support import all_items, category, staged_rows
from tests.factories import Api, product
from tests.images import IMAGES

PRODUCTS = 20
# 2 categories, 3 taxes and 20 media created with the products.
RECORDS = 2 + 3 + PRODUCTS + PRODUCTS
TOTALS = {"product": PRODUCTS, "media": PRODUCTS, "category": 2, "tax": 3, "total": RECORDS, "failures": 0}
BODY = {
    "categories": [{"name": "Run"}, {"name": "Sub", "parent": ["Run"]}],
    "products": [
        product(
            f"RUN-{n:02}",
            tax={"name": f"Tax {n % 3}", "taxRate": 5 + n % 3},
            categories=[{"path": ["Run", "Sub"]}],
            media=[{"url": f"{IMAGES}/run-{n:02}.jpg"}],
        )
        for n in range(PRODUCTS)
    ],
}


class Crash(Exception):
    """Stands for a worker killed in the middle of its work."""


def runner(api: Api, import_id: str, batch_size: int = 4) -> ImportRunner:
    """A runner whose batches of media hold as many records as its other batches."""
    return api.runner(import_id, batch_size=batch_size, media_batch_size=batch_size)


class CrashAfterBatches(ImportRunner):
    """A runner that dies once it has written a number of batches."""

    def __init__(self, api: Api, import_id: str, batches: int) -> None:
        super().__init__(
            api.session_factory,
            uuid.UUID(import_id),
            # One lane: the batches it has written when it dies are the batches it counted.
            RunnerOptions(batch_size=4, media_batch_size=4, media_lanes=1, wait_seconds=0.001),
            api.media,
        )
        self.batches_left = batches

    async def _write_next_batch(self, *, media_only: bool = False) -> Progress:
        progress = await super()._write_next_batch(media_only=media_only)
        if progress is Progress.WROTE:
            self.batches_left -= 1
            if self.batches_left == 0:
                raise Crash()
        return progress


def crash_while_settling_batch(monkeypatch: pytest.MonkeyPatch, batch: int) -> None:
    """Make the runners die in the middle of their ``batch``-th batch: its catalog rows are written, the
    batch not yet marked done."""
    mark_batch_done = CommitRepository.mark_batch_done
    calls = 0

    async def crashing(self: CommitRepository, batch_id: int, records: int) -> None:
        nonlocal calls
        calls += 1
        if calls == batch:
            raise Crash()
        await mark_batch_done(self, batch_id, records)

    monkeypatch.setattr(CommitRepository, "mark_batch_done", crashing)


async def committed_import(api: Api) -> str:
    import_id = await api.start()
    result = await api.push(import_id, BODY)
    assert not result["containsErrors"]
    await api.commit(import_id)
    return import_id


async def assert_written_exactly_once(api: Api, import_id: str) -> None:
    status = await api.status(import_id)
    assert status["status"] == "done"
    assert status["totals"] == TOTALS
    assert status["progress"] == {"total": RECORDS, "processed": RECORDS, "level": None, "levels": 3}
    assert status["failures"] == []

    products = await all_items(api, "/api/catalog/products", limit=7)
    numbers = Counter(p["productNumber"] for p in products)
    assert numbers == Counter(f"RUN-{n:02}" for n in range(PRODUCTS))
    assert all(
        len(p["media"]) == 1 and [c["path"] for c in p["categories"]] == [["Run", "Sub"]] for p in products
    )
    media = await all_items(api, "/api/catalog/media", limit=7)
    assert sorted(m["sourceUrl"] for m in media) == sorted(f"{IMAGES}/run-{n:02}.jpg" for n in range(20))
    assert sorted(t["name"] for t in await all_items(api, "/api/catalog/taxes")) == [
        "Tax 0",
        "Tax 1",
        "Tax 2",
    ]
    assert len(await all_items(api, "/api/catalog/categories")) == 2
    assert (await category(api, "Run", "Sub"))["productCount"] == PRODUCTS

    rows = await staged_rows(api, import_id)
    assert len(rows) == RECORDS
    assert {row.state for row in rows} == {"written"}


class TestConcurrentRunners:
    async def test_two_runners_write_every_record_once(self, api: Api) -> None:
        import_id = await committed_import(api)

        finished = await asyncio.gather(runner(api, import_id).run(), runner(api, import_id).run())

        assert sorted(finished) == [False, True]
        await assert_written_exactly_once(api, import_id)

    async def test_many_runners_with_batches_of_one(self, api: Api) -> None:
        import_id = await committed_import(api)

        finished = await asyncio.gather(*(runner(api, import_id, batch_size=1).run() for _ in range(4)))

        assert finished.count(True) == 1
        await assert_written_exactly_once(api, import_id)

    async def test_runner_survives_another_one_dying(self, api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
        import_id = await committed_import(api)
        crash_while_settling_batch(monkeypatch, batch=3)

        outcomes = await asyncio.gather(
            runner(api, import_id).run(), runner(api, import_id).run(), return_exceptions=True
        )

        assert [type(o) for o in outcomes if isinstance(o, BaseException)] == [Crash]
        assert True in outcomes
        await assert_written_exactly_once(api, import_id)


class TestFinishedImport:
    async def test_runner_on_a_done_import_does_nothing(self, api: Api) -> None:
        import_id = await committed_import(api)
        assert await runner(api, import_id).run() is True
        status = await api.status(import_id)
        products = await all_items(api, "/api/catalog/products")

        assert await runner(api, import_id).run() is False

        assert await api.status(import_id) == status
        assert await all_items(api, "/api/catalog/products") == products

    async def test_runner_on_an_import_not_committed_does_nothing(self, api: Api) -> None:
        import_id = await api.start()
        await api.push(import_id, BODY)

        assert await runner(api, import_id).run() is False

        status = await api.status(import_id)
        assert status["status"] == "started"
        assert status["progress"]["processed"] == 0
        assert await all_items(api, "/api/catalog/products") == []


class TestResume:
    async def test_fresh_runner_finishes_after_a_crash_between_batches(self, api: Api) -> None:
        import_id = await committed_import(api)
        with pytest.raises(Crash):
            await CrashAfterBatches(api, import_id, batches=3).run()
        halfway = await api.status(import_id)
        assert halfway["status"] == "importing"
        # The root category (level 2), then two batches of level 1.
        assert halfway["progress"]["processed"] == 1 + 4 + 4
        assert halfway["progress"]["level"] == 1

        assert await runner(api, import_id).run() is True

        await assert_written_exactly_once(api, import_id)

    async def test_fresh_runner_finishes_after_a_crash_inside_a_batch(
        self, api: Api, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import_id = await committed_import(api)
        # The root category, six batches of level 1 (24 records), then the first batch of products.
        crash_while_settling_batch(monkeypatch, batch=1 + 6 + 1)
        with pytest.raises(Crash):
            await runner(api, import_id).run()
        monkeypatch.undo()
        halfway = await api.status(import_id)
        # The batch of products was rolled back together with the state of its records.
        assert halfway["status"] == "importing"
        assert halfway["progress"]["processed"] == 1 + 24
        assert await all_items(api, "/api/catalog/products") == []

        assert await runner(api, import_id).run() is True

        await assert_written_exactly_once(api, import_id)

    async def test_records_written_before_the_crash_are_not_written_again(self, api: Api) -> None:
        import_id = await committed_import(api)
        # Everything above the products, and the first batch of products.
        with pytest.raises(Crash):
            await CrashAfterBatches(api, import_id, batches=1 + 6 + 1).run()
        before = {p["productNumber"]: p for p in await all_items(api, "/api/catalog/products")}
        assert len(before) == 4

        await runner(api, import_id).run()

        after = {p["productNumber"]: p for p in await all_items(api, "/api/catalog/products")}
        assert {number: after[number] for number in before} == before
        await assert_written_exactly_once(api, import_id)
