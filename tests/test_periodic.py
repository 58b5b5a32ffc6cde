"""The checks a worker runs beside its jobs: each at start-up and then at its own period, and one that
fails does not stop the others or itself."""

import asyncio
import contextlib

from catalog_import.periodic import Periodic, run_periodically


async def test_each_check_runs_at_start_up_and_then_at_its_period_and_a_failure_stops_nothing() -> None:
    runs: dict[str, int] = {"often": 0, "seldom": 0, "failing": 0}

    async def count(name: str) -> None:
        runs[name] += 1
        if name == "failing":
            raise RuntimeError("a check that fails")

    checks = [
        Periodic("often", 0.05, lambda: count("often")),
        Periodic("seldom", 60, lambda: count("seldom")),
        Periodic("failing", 0.05, lambda: count("failing")),
    ]
    task = asyncio.create_task(run_periodically(checks))
    await asyncio.sleep(0.5)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task

    assert runs["seldom"] == 1
    assert runs["often"] >= 4
    assert runs["failing"] >= 4
