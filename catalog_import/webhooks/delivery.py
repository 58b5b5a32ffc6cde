"""Sending webhook messages: signed following Standard Webhooks (``webhook-id``, ``webhook-timestamp``,
``webhook-signature``; HMAC-SHA256 with the integration's webhook secret), posted over connections that
follow the same address rules as media downloads, retried with exponential backoff.

Every worker runs one ``DeliveryLoop`` beside its jobs. It leases due messages from the outbox (so any
number of loops share them, none sending a message another is sending), sends a few at a time, and
records each outcome. A message is delivered at least once: a worker killed after the receiver answered
but before the outcome was recorded sends it again once the lease has run out, with the same
``webhook-id``, by which receivers recognise a repeat."""

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks import Webhook

from catalog_import import metrics
from catalog_import.addresses import AddressPolicy, ForbiddenAddress, GuardedTransport
from catalog_import.config import Settings
from catalog_import.db import database_unavailable
from catalog_import.webhooks.repository import LeasedMessage, WebhookRepository

logger = structlog.get_logger(__name__)

USER_AGENT = "catalog-import-webhooks/1"


@dataclass(frozen=True)
class DeliveryOptions:
    timeout_seconds: float = 10.0
    max_attempts: int = 8
    retry_base_seconds: float = 5.0
    retry_max_seconds: float = 6 * 3600.0
    concurrency: int = 8
    # How long the loop rests when nothing is due.
    idle_seconds: float = 0.5
    allowed_hosts: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> "DeliveryOptions":
        return cls(
            timeout_seconds=settings.webhook_timeout_seconds,
            max_attempts=settings.webhook_max_attempts,
            retry_base_seconds=settings.webhook_retry_base_seconds,
            retry_max_seconds=settings.webhook_retry_max_seconds,
            concurrency=settings.webhook_concurrency,
            allowed_hosts=tuple(settings.media_allowed_hosts),
        )

    def retry_in(self, attempts: int) -> float | None:
        """Seconds to wait after ``attempts`` failed attempts; None once there are no attempts left."""
        if attempts >= self.max_attempts:
            return None
        return min(self.retry_base_seconds * 4.0 ** (attempts - 1), self.retry_max_seconds)

    @property
    def lease_seconds(self) -> float:
        # Longer than any one attempt can take, connection and answer included.
        return 2 * self.timeout_seconds + 30


def message_id(delivery_id: uuid.UUID) -> str:
    return f"msg_{delivery_id.hex}"


def signed_headers(secret: str, msg_id: str, payload: str, timestamp: datetime) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, timestamp, payload),
    }


@dataclass(frozen=True, slots=True)
class FailedAttempt:
    """Why a message was not taken, and whether trying again could change that: a receiver the address
    rules refuse stays refused, and the message is given up at once."""

    error: str
    final: bool = False


class WebhookSender:
    """Posts one signed message; answers None when the receiver took it (2xx), else a ``FailedAttempt``."""

    def __init__(self, options: DeliveryOptions) -> None:
        self._client = httpx.AsyncClient(
            transport=GuardedTransport(
                AddressPolicy(options.allowed_hosts),
                httpx.Limits(
                    max_connections=options.concurrency, max_keepalive_connections=options.concurrency
                ),
            ),
            timeout=options.timeout_seconds,
            # A receiver answers where it was asked; a redirect is an answer that is not a 2xx.
            follow_redirects=False,
            headers={"user-agent": USER_AGENT},
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(self, message: LeasedMessage) -> FailedAttempt | None:
        headers = signed_headers(message.secret, message_id(message.id), message.payload, datetime.now(UTC))
        try:
            response = await self._client.post(message.url, content=message.payload, headers=headers)
        except ForbiddenAddress as exc:
            return FailedAttempt(f"Refused by the address rules: {exc}", final=True)
        except Exception as exc:  # any other failure to connect or be answered is a failed attempt
            return FailedAttempt(f"{type(exc).__name__}: {exc}".rstrip(": "))
        if response.is_success:
            return None
        return FailedAttempt(f"HTTP {response.status_code}")


class DeliveryLoop:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession], options: DeliveryOptions) -> None:
        self.session_factory = session_factory
        self.options = options
        self.sender = WebhookSender(options)

    async def aclose(self) -> None:
        await self.sender.aclose()

    async def run(self) -> None:
        """Deliver until cancelled; a database that is away, or any other error, pauses it, never ends it."""
        while True:
            try:
                sent = await self.deliver_due()
            except Exception as exc:
                if database_unavailable(exc):
                    logger.warning("webhook deliveries paused: database unavailable", error=str(exc))
                else:
                    logger.exception("webhook deliveries failed; trying again")
                await asyncio.sleep(max(self.options.idle_seconds, 1.0))
                continue
            if not sent:
                await asyncio.sleep(self.options.idle_seconds)

    async def deliver_due(self) -> int:
        """Send the messages due now, up to ``concurrency`` of them; how many were tried."""
        async with self.session_factory() as session, session.begin():
            leased = await WebhookRepository(session).lease_due(
                self.options.concurrency, self.options.lease_seconds
            )
        if leased:
            attempts = await asyncio.gather(*(self.sender.send(message) for message in leased))
            async with self.session_factory() as session, session.begin():
                repository = WebhookRepository(session)
                for message, failed in zip(leased, attempts, strict=True):
                    await self._settle(repository, message, failed)
        return len(leased)

    async def _settle(
        self, repository: WebhookRepository, message: LeasedMessage, failed: FailedAttempt | None
    ) -> None:
        log = logger.bind(webhook_id=message_id(message.id), webhook_event=message.event)
        if failed is None:
            await repository.delivered(message.id)
            metrics.WEBHOOK_ATTEMPTS.labels(message.event, "delivered").inc()
            log.info("webhook delivered", attempts=message.attempts)
            return
        retry_in = None if failed.final else self.options.retry_in(message.attempts)
        await repository.attempt_failed(message.id, failed.error, retry_in)
        metrics.WEBHOOK_ATTEMPTS.labels(message.event, "failed" if retry_in is None else "retry").inc()
        if retry_in is None:
            log.warning("webhook given up", attempts=message.attempts, error=failed.error)
        else:
            log.info(
                "webhook attempt failed", attempts=message.attempts, error=failed.error, retry_in=retry_in
            )
