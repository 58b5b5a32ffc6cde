"""Imports that write the same catalog rows at the same time: the database may break a lock cycle between
their batches by rolling one back, and the runner writes that batch again, so that no deadlock reaches
the user as a failure."""

import asyncio
import random
import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.committer.support import all_items
from tests.factories import Api, product

PRODUCTS = 60


def stock_updates(numbers: list[str], stock: int) -> dict[str, object]:
    return {"products": [{"productNumber": number, "stock": stock} for number in numbers]}


async def committed(api: Api, body: dict[str, object]) -> str:
    import_id = await api.start()
    assert not (await api.push(import_id, body))["containsErrors"]
    await api.commit(import_id)
    return import_id


async def test_imports_updating_the_same_products_in_different_orders_all_succeed(api: Api) -> None:
    numbers = [f"SAME-{n:03}" for n in range(PRODUCTS)]
    await api.import_records({"products": [product(number) for number in numbers]})
    shuffled = numbers.copy()
    random.Random(7).shuffle(shuffled)
    orders = [numbers, numbers[::-1], shuffled]
    import_ids = [await committed(api, stock_updates(order, index)) for index, order in enumerate(orders)]

    await asyncio.gather(
        *(api.runner(import_id, batch_size=15).run() for import_id in import_ids for _ in range(2))
    )

    for import_id in import_ids:
        status = await api.status(import_id)
        assert (status["status"], status["failures"], status["totals"]["product"]) == ("done", [], PRODUCTS)
    stocks = {p["productNumber"]: p["stock"] for p in await all_items(api, "/api/catalog/products")}
    assert set(stocks) == set(numbers)
    assert set(stocks.values()) <= {0, 1, 2}


async def test_batch_chosen_to_break_a_deadlock_is_written_again(api: Api, engine: AsyncEngine) -> None:
    """A deadlock made on purpose: another transaction holds a product the batch updates, then asks for a
    staged record the batch has claimed. The database rolls the batch back (it has waited longer, and
    the other transaction waits 30 s before looking for deadlocks); the runner writes it again."""
    await api.import_records({"products": [product("LOCKED-A"), product("LOCKED-B")]})
    import_id = await committed(api, stock_updates(["LOCKED-A", "LOCKED-B"], 42))

    async with engine.connect() as other:
        await other.execute(text("SET deadlock_timeout = '30s'"))
        await other.execute(text("SELECT 1 FROM products WHERE product_number = 'LOCKED-B' FOR UPDATE"))
        run = asyncio.create_task(api.runner(import_id).run())
        async with asyncio.timeout(30):
            while not await other.scalar(text(BATCH_WAITING_FOR_A_PRODUCT)):
                assert not run.done(), run
                await asyncio.sleep(0.02)
            # The staged record of the blocked batch: asking for it closes the cycle.
            await other.execute(
                text(
                    "SELECT 1 FROM import_records WHERE import_id = :id AND entity = 'product' "
                    "ORDER BY record_id LIMIT 1 FOR UPDATE"
                ),
                {"id": uuid.UUID(import_id)},
            )
            await other.rollback()
            assert await run is True

    status = await api.status(import_id)
    assert (status["status"], status["failures"]) == ("done", [])
    assert [(await api.product(number))["stock"] for number in ("LOCKED-A", "LOCKED-B")] == [42, 42]


# Activity statistics are a snapshot per transaction: clear it to see the present.
BATCH_WAITING_FOR_A_PRODUCT = """
SELECT count(*) FROM (SELECT pg_stat_clear_snapshot()) AS fresh, pg_stat_activity
WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%UPDATE products%'
"""
