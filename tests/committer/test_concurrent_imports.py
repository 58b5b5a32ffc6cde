"""Imports that write the same catalog rows at the same time: the database may break a lock cycle between
their batches by rolling one back, and the runner writes that batch again, so that no deadlock reaches
the user as a failure; imports that create the same product numbers adopt each other's products."""

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


async def test_imports_creating_the_same_product_numbers_all_succeed(api: Api) -> None:
    # Four imports push the same new numbers, without ids, before any of them is committed: each chose
    # its own ids at push, and whichever writes a number second adopts the product the first created.
    numbers = [f"NEW-{n:03}" for n in range(PRODUCTS)]
    sizes = [{"property": "Size", "value": size} for size in ("S", "M")]
    body = {"products": [product(number) for number in numbers] + [product("NEW-V", variants=sizes)]}
    import_ids = [await committed(api, body) for _ in range(4)]

    await asyncio.gather(
        *(api.runner(import_id, batch_size=15).run() for import_id in import_ids for _ in range(2))
    )

    for import_id in import_ids:
        status = await api.status(import_id)
        assert (status["status"], status["failures"]) == ("done", []), [
            f["details"] for f in status["failures"]
        ]
        assert status["totals"]["product"] == PRODUCTS + 3
    listed = [p["productNumber"] for p in await all_items(api, "/api/catalog/products")]
    assert sorted(listed) == sorted([*numbers, "NEW-V", "NEW-V.1", "NEW-V.2"])
    assert len((await api.product("NEW-V"))["variantIds"]) == 2


async def test_a_number_created_meanwhile_is_adopted_with_what_depends_on_it(api: Api) -> None:
    waiting = await api.start()
    pushed = await api.push(
        waiting,
        {
            "products": [product("LATE-1", stock=7)],
            "categories": [{"name": "Listing", "products": [{"productNumber": "LATE-1"}]}],
        },
    )
    assert not pushed["containsErrors"], pushed
    await api.import_records({"products": [product("LATE-1", stock=1)]})
    first_id = (await api.product("LATE-1"))["id"]

    status = await api.commit_and_run(waiting)

    assert (status["status"], status["failures"]) == ("done", [])
    written = await api.product("LATE-1")
    assert (written["id"], written["stock"]) == (first_id, 7)
    assert [category["name"] for category in written["categories"]] == ["Listing"]


async def test_a_record_with_an_id_of_its_own_still_fails_on_a_number_taken_meanwhile(api: Api) -> None:
    waiting = await api.start()
    own_id = uuid.uuid4().hex
    assert not (await api.push(waiting, {"products": [product("TAKEN-1", id=own_id)]}))["containsErrors"]
    await api.import_records({"products": [product("TAKEN-1")]})

    status = await api.commit_and_run(waiting)

    [failure] = status["failures"]
    assert failure["id"] == own_id
    assert [detail["code"] for detail in failure["details"]] == ["DUPLICATE_PRODUCT_NUMBER"]
    assert (await api.product("TAKEN-1"))["id"] != own_id


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
