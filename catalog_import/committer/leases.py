"""Leases of the jobs working on imports. A job takes one when it starts on an import and gives it back when
it ends; while it runs, its worker renews every lease it holds, a few times per lease period. A worker that
dies (killed, its machine gone) renews nothing, and once every lease on an importing import has run out,
any live worker queues the import again: another worker takes over within about one lease period, instead
of waiting for the progress-based stall check. Two jobs on one import are harmless (the work itself is
claimed in PostgreSQL, batch by batch), so a lease that runs out under a worker still alive, its renewal
held up, costs at most an extra job."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog_import.committer.repository import CommitRepository
from catalog_import.db import database_unavailable
from catalog_import.ids import new_id

logger = structlog.get_logger(__name__)

RENEWALS_PER_LEASE = 3


class RunnerLeases:
    """The leases of one worker process's jobs, renewed together by ``keep_renewing``."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], lease_seconds: float) -> None:
        self.session_factory = session_factory
        self.lease_seconds = lease_seconds
        self._held: set[uuid.UUID] = set()

    @property
    def renew_every_seconds(self) -> float:
        return self.lease_seconds / RENEWALS_PER_LEASE

    @contextlib.asynccontextmanager
    async def holding(self, import_id: uuid.UUID) -> AsyncIterator[None]:
        """Hold a lease on ``import_id`` while the block runs. A job cancelled (its worker shutting down)
        leaves its lease to run out, so that another worker takes the import over."""
        lease_id = new_id()
        async with self.session_factory() as session, session.begin():
            await CommitRepository(session).take_lease(lease_id, import_id, self.lease_seconds)
        self._held.add(lease_id)
        cancelled = False
        try:
            yield
        except asyncio.CancelledError:
            cancelled = True
            raise
        finally:
            if cancelled:
                self._held.discard(lease_id)
            else:
                await self._give_back(lease_id)

    async def _give_back(self, lease_id: uuid.UUID) -> None:
        self._held.discard(lease_id)
        try:
            async with self.session_factory() as session, session.begin():
                await CommitRepository(session).drop_lease(lease_id)
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            # It runs out by itself: at worst the import is queued once more.
            logger.warning("lease not given back: database unavailable", error=str(exc))

    async def renew(self) -> None:
        held = list(self._held)
        if not held:
            return
        async with self.session_factory() as session, session.begin():
            await CommitRepository(session).renew_leases(held, self.lease_seconds)

    async def keep_renewing(self) -> None:
        """Renew the leases held, a few times per lease period, until cancelled."""
        while True:
            await asyncio.sleep(self.renew_every_seconds)
            try:
                await self.renew()
            except Exception as exc:
                # Never given up: leases left to run out would hand every running import over.
                if database_unavailable(exc):
                    logger.warning("leases not renewed: database unavailable", error=str(exc))
                else:
                    logger.exception("leases not renewed")
