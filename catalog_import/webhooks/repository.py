"""SQL of the webhook outbox: adding messages, leasing the due ones to a delivery loop, settling them."""

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_import.ids import new_id
from catalog_import.models import Import, WebhookDelivery, WebhookState

# Due messages, leased to the caller. An ``import.done`` message waits while a failures message of its
# import is still pending (not delivered, not given up), so that the final status comes after every
# earlier message of the import.
LEASE_DUE = """
UPDATE webhook_deliveries d
SET attempts = d.attempts + 1, leased_until = now() + make_interval(secs => :lease_seconds)
FROM imports i JOIN integrations g ON g.id = i.integration_id
WHERE i.id = d.import_id AND d.id IN (
    SELECT w.id FROM webhook_deliveries w
    WHERE w.state = 'pending' AND w.next_attempt_at <= now()
      AND (w.leased_until IS NULL OR w.leased_until < now())
      AND (w.event <> 'import.done' OR NOT EXISTS (
          SELECT 1 FROM webhook_deliveries f
          WHERE f.import_id = w.import_id AND f.event = 'import.failures' AND f.state = 'pending'))
    ORDER BY w.next_attempt_at
    LIMIT :limit
    FOR UPDATE OF w SKIP LOCKED)
RETURNING d.id, d.event, d.url, d.payload, d.attempts, g.webhook_secret
"""


@dataclass(frozen=True)
class LeasedMessage:
    id: uuid.UUID
    event: str
    url: str
    payload: str
    attempts: int
    secret: str


class WebhookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def urls(self, import_id: uuid.UUID) -> tuple[str | None, str | None]:
        """The import's (error, status) webhook URLs."""
        row = (
            await self.session.execute(
                select(Import.error_webhook_url, Import.status_webhook_url).where(Import.id == import_id)
            )
        ).one()
        return row[0], row[1]

    async def add(self, import_id: uuid.UUID, event: str, url: str, payload: str) -> None:
        self.session.add(
            WebhookDelivery(id=new_id(), import_id=import_id, event=event, url=url, payload=payload)
        )
        await self.session.flush()

    async def lease_due(self, limit: int, lease_seconds: float) -> list[LeasedMessage]:
        rows = await self.session.execute(text(LEASE_DUE), {"limit": limit, "lease_seconds": lease_seconds})
        return [LeasedMessage(*row) for row in rows]

    async def delivered(self, message_id: uuid.UUID) -> None:
        await self.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == message_id)
            .values(state=WebhookState.DELIVERED, delivered_at=func.now(), leased_until=None, last_error=None)
        )

    async def attempt_failed(self, message_id: uuid.UUID, error: str, retry_in: float | None) -> None:
        """Record a failed attempt: tried again ``retry_in`` seconds from now, or given up when None."""
        values: dict[str, object] = {"leased_until": None, "last_error": error[:2000]}
        if retry_in is None:
            values["state"] = WebhookState.FAILED
        else:
            values["next_attempt_at"] = func.now() + func.make_interval(0, 0, 0, 0, 0, 0, retry_in)
        await self.session.execute(
            update(WebhookDelivery).where(WebhookDelivery.id == message_id).values(**values)
        )
