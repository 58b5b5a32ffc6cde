"""The API as the benchmarks call it: one signed-in integration, over real HTTP to a server process on
127.0.0.1 or in process over httpx's ASGI transport, and concurrent pushes of many bodies."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson

from catalog_import.app import create_app
from catalog_import.auth.service import create_integration
from catalog_import.config import Settings


class ApiClient:
    """One signed-in integration; ``client`` reaches the API (a base URL on 127.0.0.1, or the app)."""

    def __init__(self, client: httpx.AsyncClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    @classmethod
    @asynccontextmanager
    async def connect(cls, base_url: str, client_id: str, client_secret: str) -> AsyncIterator["ApiClient"]:
        """Sign in to the server at ``base_url``. The environment's proxy settings are not used."""
        limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
        async with httpx.AsyncClient(
            base_url=base_url, timeout=600, limits=limits, trust_env=False
        ) as client:
            yield cls(client, await cls.token(client, client_id, client_secret))

    @classmethod
    @asynccontextmanager
    async def serving(cls, settings: Settings) -> AsyncIterator["ApiClient"]:
        """The app in this process, with an integration created for the run."""
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            session_factory = app.state.session_factory
            async with session_factory() as session, session.begin():
                created = await create_integration(session, "benchmark")
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=600) as client:
                yield cls(client, await cls.token(client, created.client_id, created.client_secret))

    @staticmethod
    async def token(client: httpx.AsyncClient, client_id: str, client_secret: str) -> str:
        response = await client.post(
            "/api/oauth/token",
            json={"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret},
        )
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token

    async def call(self, method: str, path: str, body: bytes | None = None, expect: int = 200) -> Any:
        response = await self.client.request(method, path, content=body, headers=self.headers)
        if response.status_code != expect:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:500]}")
        return orjson.loads(response.content) if response.content else None

    async def start(self, name: str) -> uuid.UUID:
        answer = await self.call("POST", "/api/import/catalog/start", orjson.dumps({"name": name}))
        return uuid.UUID(answer["id"])

    async def push(self, import_id: uuid.UUID, body: dict[str, Any] | bytes) -> None:
        """Push one body; every record of it must be staged."""
        content = body if isinstance(body, bytes) else orjson.dumps(body)
        answer = await self.call("POST", f"/api/import/{import_id.hex}/record", content)
        if answer["containsErrors"]:
            problems = [r["errors"] for r in answer["records"] if r["errors"]]
            raise RuntimeError(f"push refused records: {problems[:3]}")

    async def commit(self, import_id: uuid.UUID) -> None:
        await self.call("POST", f"/api/import/{import_id.hex}/commit", expect=204)

    async def validate(self, import_id: uuid.UUID) -> None:
        await self.call("POST", f"/api/import/{import_id.hex}/validate", expect=204)

    async def status(self, import_id: uuid.UUID) -> dict[str, Any]:
        answer: dict[str, Any] = await self.call("GET", f"/api/import/{import_id.hex}/status")
        return answer


async def push_bodies(
    send: Callable[[bytes], Awaitable[object]],
    starts: Iterable[int],
    body_from: Callable[[int], dict[str, Any]],
    clients: int,
) -> list[float]:
    """Send the bodies ``body_from(start)`` for each of ``starts`` from ``clients`` concurrent clients,
    each sending its next body once the last one was answered; the latency of each send in seconds.
    Bodies are built just before they are sent, so memory stays flat."""
    pending = iter(starts)
    latencies: list[float] = []

    async def client() -> None:
        for start in pending:
            body = orjson.dumps(body_from(start))
            started = time.perf_counter()
            await send(body)
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies
