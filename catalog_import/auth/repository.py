"""SQL for integrations and server keys."""

import uuid

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_import.models import Integration, ServerKey


class IntegrationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_client_id(self, client_id: str) -> Integration | None:
        return await self.session.scalar(select(Integration).where(Integration.client_id == client_id))

    async def exists(self, integration_id: uuid.UUID) -> bool:
        found = await self.session.scalar(select(Integration.id).where(Integration.id == integration_id))
        return found is not None

    async def lock_for_bootstrap(self) -> None:
        """Serialise the bootstrap of several processes starting at once (held until commit)."""
        await self.session.execute(text("SELECT pg_advisory_xact_lock(hashtext('bootstrap-integration'))"))

    async def add(self, integration: Integration) -> None:
        self.session.add(integration)
        await self.session.flush()

    async def server_key(self, name: str, candidate: str) -> str:
        """The key stored under ``name``; ``candidate`` becomes it when none is stored yet."""
        await self.session.execute(
            insert(ServerKey)
            .values(name=name, value=candidate)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        value = await self.session.scalar(select(ServerKey.value).where(ServerKey.name == name))
        assert value is not None
        return value
