"""Webhooks (CONTRACT §6) as a receiver sees them: failures in batches and the final status, signed with the
integration's webhook secret, retried with backoff until the receiver takes them or the attempts run out,
and their delivery state in ``status``. The delivery loop is driven step by step (``deliver_due``); the
last test runs it as a real worker does, beside a real server."""

import asyncio
import base64
import json
import time
import uuid
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks import Webhook

from catalog_import.auth.secrets import generate_webhook_secret
from catalog_import.config import Settings
from catalog_import.models import Integration, WebhookDelivery
from catalog_import.webhooks.delivery import DeliveryLoop, DeliveryOptions
from tests.factories import Api, assert_error, product
from tests.live import CLIENT_ID, live_client
from tests.media.servers import NOT_FOUND, LoopbackServer, Posted, Reply

ACCEPTED = Reply(204, b"", None)
REFUSED = Reply(500, b"down", "text/plain")


def webhooks(
    delivered: int = 0, failed: int = 0, pending: int = 0, lastError: str | None = None
) -> dict[str, Any]:
    """``status.webhooks`` as the contract writes it."""
    return {"delivered": delivered, "failed": failed, "pending": pending, "lastError": lastError}


def verified(posted: Posted, secret: str) -> dict[str, Any]:
    """The body of a delivery, after checking its signature as a receiver would."""
    payload: dict[str, Any] = Webhook(secret).verify(posted.body, posted.headers)
    return payload


@pytest.fixture
async def deliveries(session_factory: async_sessionmaker[AsyncSession], settings: Settings) -> Any:
    loops: list[DeliveryLoop] = []

    def make(**options: Any) -> DeliveryLoop:
        defaults = DeliveryOptions.from_settings(settings)
        loop = DeliveryLoop(
            session_factory,
            DeliveryOptions(**{**defaults.__dict__, "timeout_seconds": 5.0, **options}),
        )
        loops.append(loop)
        return loop

    yield make
    for loop in loops:
        await loop.aclose()


async def import_with_a_failure(api: Api, server: LoopbackServer, **config: Any) -> str:
    """A committed and written import: one product written, one failed (its media is missing)."""
    import_id = await api.start("hooked", **config)
    pushed = await api.push(
        import_id,
        {
            "products": [
                product("HOOK-1"),
                product("HOOK-2", media=[{"url": server.serve("/missing.png", NOT_FOUND)}]),
            ]
        },
    )
    assert not pushed["containsErrors"], pushed
    status = await api.commit_and_run(import_id)
    assert (status["status"], status["totals"]["failures"]) == ("done", 1), status
    return import_id


async def test_failures_then_the_final_status_arrive_signed(api: Api, deliveries: Any) -> None:
    with LoopbackServer() as server:
        import_id = await import_with_a_failure(
            api,
            server,
            errorWebhookUrl=server.serve("/errors", ACCEPTED),
            statusWebhookUrl=server.serve("/status", ACCEPTED),
        )
        assert (await api.status(import_id))["webhooks"] == webhooks(pending=2)
        loop = deliveries()
        # The final status waits for the failures on the first round.
        assert await loop.deliver_due() == 1
        assert server.posted("/status") == []
        assert await loop.deliver_due() == 1
        assert await loop.deliver_due() == 0

        [failures_message] = server.posted("/errors")
        [status_message] = server.posted("/status")
    failures = verified(failures_message, api.webhook_secret)
    listed = (await api.get(f"/api/import/{import_id}/failures")).json()["items"]
    assert failures == {"type": "import.failures", "importId": import_id, "failures": listed}
    assert failures["failures"][0]["details"][0]["code"] == "MEDIA_DOWNLOAD_FAILED"

    final = verified(status_message, api.webhook_secret)
    assert (final["type"], final["importId"]) == ("import.done", import_id)
    assert final["status"]["status"] == "done"
    assert final["status"]["totals"]["product"] == 1
    assert final["status"]["totals"]["failures"] == 1
    assert "failures" not in final["status"]

    headers = {name.lower(): value for name, value in status_message.headers.items()}
    assert headers["content-type"] == "application/json"
    assert headers["webhook-id"].startswith("msg_")
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
    assert headers["webhook-signature"].startswith("v1,")
    # Another secret does not verify it.
    with pytest.raises(Exception, match="signature"):
        verified(status_message, generate_webhook_secret())

    status = await api.status(import_id)
    assert status["webhooks"] == webhooks(delivered=2)


async def test_the_final_status_waits_for_failures_being_retried(api: Api, deliveries: Any) -> None:
    with LoopbackServer() as server:
        await import_with_a_failure(
            api,
            server,
            errorWebhookUrl=server.serve("/errors", REFUSED, REFUSED, ACCEPTED),
            statusWebhookUrl=server.serve("/status", ACCEPTED),
        )
        loop = deliveries(retry_base_seconds=0)
        sent_each_round = [await loop.deliver_due() for _ in range(4)]
        errors, statuses = server.posted("/errors"), server.posted("/status")
        assert await loop.deliver_due() == 0

    # Failures tried three times, the final status only once they were delivered.
    assert sent_each_round == [1, 1, 1, 1]
    assert (len(errors), len(statuses)) == (3, 1)


async def test_a_receiver_that_fails_first_gets_the_same_message_again(api: Api, deliveries: Any) -> None:
    with LoopbackServer() as server:
        import_id = (
            await api.import_records(
                {"products": [product("HOOK-R")]},
                statusWebhookUrl=server.serve("/status", REFUSED, Reply(503, b"", None), ACCEPTED),
            )
        )["id"]
        loop = deliveries(retry_base_seconds=0)
        for error in ("HTTP 500", "HTTP 503"):
            assert await loop.deliver_due() == 1
            assert (await api.status(import_id))["webhooks"] == webhooks(pending=1, lastError=error)
        assert await loop.deliver_due() == 1
        attempts = server.posted("/status")
    assert (await api.status(import_id))["webhooks"] == webhooks(delivered=1)
    assert len(attempts) == 3
    # Every attempt carries the same message under the same id, each signed anew.
    assert len({a.headers["webhook-id"] for a in attempts}) == 1
    assert len({a.body for a in attempts}) == 1
    for attempt in attempts:
        assert verified(attempt, api.webhook_secret)["importId"] == import_id


async def test_backoff_grows_and_the_message_is_given_up_after_the_last_attempt(
    api: Api, deliveries: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    options = DeliveryOptions(retry_base_seconds=5, retry_max_seconds=60, max_attempts=4)
    assert [options.retry_in(n) for n in range(1, 5)] == [5, 20, 60, None]

    with LoopbackServer() as server:
        import_id = (
            await api.import_records(
                {"products": [product("HOOK-X")]}, statusWebhookUrl=server.serve("/status", REFUSED)
            )
        )["id"]
        loop = deliveries(retry_base_seconds=0, max_attempts=2)
        assert await loop.deliver_due() == 1
        assert await loop.deliver_due() == 1
        assert await loop.deliver_due() == 0
        assert len(server.posted("/status")) == 2
    assert (await api.status(import_id))["webhooks"] == webhooks(failed=1, lastError="HTTP 500")
    async with session_factory() as session:
        delivery = (await session.scalars(select(WebhookDelivery))).one()
    assert (delivery.state, delivery.attempts, delivery.last_error) == ("failed", 2, "HTTP 500")


async def test_a_message_not_due_yet_waits(api: Api, deliveries: Any) -> None:
    with LoopbackServer() as server:
        import_id = (
            await api.import_records(
                {"products": [product("HOOK-W")]}, statusWebhookUrl=server.serve("/status", REFUSED)
            )
        )["id"]
        loop = deliveries(retry_base_seconds=3600)
        assert await loop.deliver_due() == 1
        assert await loop.deliver_due() == 0
        assert len(server.posted("/status")) == 1
    assert (await api.status(import_id))["webhooks"]["pending"] == 1


@pytest.mark.parametrize("host", ["127.0.0.2", "[::1]", "localhost", "LOCALHOST.", "shop.localhost"])
async def test_a_webhook_url_the_address_rules_refuse_is_refused_at_start(api: Api, host: str) -> None:
    # Loopback hosts outside the allowlist (127.0.0.1): judged without looking anything up or connecting.
    response = await api.post(
        "/api/import/catalog/start",
        json={
            "name": "hooked",
            "errorWebhookUrl": "http://127.0.0.1:9/ok",
            "statusWebhookUrl": f"http://{host}:9/s",
        },
    )

    error = assert_error(response, 422, "INVALID_IMPORT")
    assert [detail["path"] for detail in error["details"]] == ["statusWebhookUrl"]
    assert "address rules" in error["message"]


async def test_a_receiver_refused_at_send_time_is_given_up_at_once(
    api: Api, deliveries: Any, settings: Settings
) -> None:
    # As if the receiver's name had resolved to a loopback address outside the allowlist since the start:
    # refused before any connection is made, and not tried again.
    status = await api.import_records(
        {"products": [product("HOOK-F")]}, statusWebhookUrl="http://127.0.0.1:9/status"
    )
    import_id = status["id"]
    async with api.session_factory() as session, session.begin():
        await session.execute(update(WebhookDelivery).values(url="http://127.0.0.2:9/status"))
    loop = deliveries()
    assert "127.0.0.2" not in settings.media_allowed_hosts
    assert await loop.deliver_due() == 1
    assert await loop.deliver_due() == 0
    async with api.session_factory() as session:
        delivery = (await session.scalars(select(WebhookDelivery))).one()
    assert (delivery.state, delivery.attempts) == ("failed", 1)
    webhook_counts = (await api.status(import_id))["webhooks"]
    assert webhook_counts == webhooks(failed=1, lastError=delivery.last_error)
    assert (
        "address rules" in webhook_counts["lastError"]
        and "not a public address" in webhook_counts["lastError"]
    )


async def test_redirects_are_not_followed(api: Api, deliveries: Any) -> None:
    with LoopbackServer() as server:
        server.serve("/elsewhere", ACCEPTED)
        await api.import_records(
            {"products": [product("HOOK-3")]},
            statusWebhookUrl=server.serve("/status", Reply(307, b"", None, {"Location": "/elsewhere"})),
        )
        await deliveries(max_attempts=1).deliver_due()
        assert server.posted("/elsewhere") == []


async def test_a_cancelled_import_reports_its_final_status(api: Api, deliveries: Any) -> None:
    with LoopbackServer() as server:
        import_id = await api.start("cancelled", statusWebhookUrl=server.serve("/status", ACCEPTED))
        await api.push(import_id, {"products": [product("HOOK-C")]})
        assert (await api.post(f"/api/import/{import_id}/cancel")).status_code == 204
        assert (await api.post(f"/api/import/{import_id}/cancel")).status_code == 204
        await deliveries().deliver_due()
        [message] = server.posted("/status")
    assert verified(message, api.webhook_secret)["status"]["status"] == "cancelled"


async def test_without_webhook_urls_nothing_is_queued(api: Api) -> None:
    with LoopbackServer() as server:
        import_id = await import_with_a_failure(api, server)
    async with api.session_factory() as session:
        assert (await session.scalars(select(WebhookDelivery))).all() == []
    assert (await api.status(import_id))["webhooks"] == webhooks()


async def test_failures_found_before_writing_are_one_message(api: Api, deliveries: Any) -> None:
    with LoopbackServer() as server:
        import_id = await api.start("deferred", deferReferences=True, errorWebhookUrl=server.url("/errors"))
        server.serve("/errors", ACCEPTED)
        await api.push(
            import_id,
            {"products": [product(f"HOOK-D{n}", tax={"name": "Nowhere"}) for n in range(3)]},
        )
        status = await api.commit_and_run(import_id)
        assert status["totals"]["failures"] == 3
        await deliveries().deliver_due()
        [message] = server.posted("/errors")
    failures = verified(message, api.webhook_secret)["failures"]
    assert [f["path"] for f in failures] == ["products.0", "products.1", "products.2"]


def test_webhook_secrets_are_standard_base64() -> None:
    secret = generate_webhook_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 24


@pytest.mark.workers
async def test_a_running_server_delivers_on_its_own(
    live_server: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    with LoopbackServer() as server:
        async with live_client(live_server) as client:
            started = await client.post(
                "/api/import/catalog/start",
                json={"name": "live hooks", "statusWebhookUrl": server.serve("/status", ACCEPTED)},
            )
            import_id = started.json()["id"]
            await client.post(f"/api/import/{import_id}/record", json={"products": [product("HOOK-L")]})
            assert (await client.post(f"/api/import/{import_id}/commit")).status_code == 204
            deadline = time.monotonic() + 60
            while not server.posted("/status"):
                assert time.monotonic() < deadline, "no status webhook within 60 s"
                await asyncio.sleep(0.05)
            status = (await client.get(f"/api/import/{import_id}/status")).json()
        [message] = server.posted("/status")
    async with session_factory() as session:
        integration = (
            await session.scalars(select(Integration).where(Integration.client_id == CLIENT_ID))
        ).one()
    body = verified(message, integration.webhook_secret)
    assert (body["importId"], body["status"]["status"]) == (import_id, "done")
    assert uuid.UUID(body["importId"])
    assert json.loads(message.body)["status"]["totals"]["product"] == 1
    assert status["status"] == "done"
