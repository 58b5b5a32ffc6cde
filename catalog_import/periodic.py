"""Checks a worker process runs every so often beside its jobs: never in a job slot, so that a worker
whose every slot is busy with a long import does not let them pile up in the queue for the next import to
wait behind, and a worker killed during one holds nothing that another must wait out."""

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import structlog

logger = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Periodic:
    """``run`` every ``every_seconds``, first at start-up."""

    name: str
    every_seconds: float
    run: Callable[[], Awaitable[object]]


async def run_periodically(checks: Sequence[Periodic]) -> None:
    """Run the checks, one at a time, each as often as it asks, until cancelled. A check that fails is
    logged and runs again at its next turn; the others go on meanwhile."""
    due = dict.fromkeys((check.name for check in checks), time.monotonic())
    while True:
        for check in checks:
            if time.monotonic() < due[check.name]:
                continue
            due[check.name] = time.monotonic() + check.every_seconds
            try:
                await check.run()
            except Exception:
                logger.exception("periodic check failed", check=check.name)
        await asyncio.sleep(max(0.05, min(due.values()) - time.monotonic()))
