"""A real ``catalog-import serve`` process on a loopback port, for tests of what runs outside the app:
the Python clients, the command-line importer."""

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx

from catalog_import.config import Settings
from catalog_import.embedded import free_port
from catalog_import.queue import forget_queue

CLIENT_ID, CLIENT_SECRET = "client-test", "client-test-secret"
TOKEN_REQUEST = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}


def live_get(base_url: str, path: str, **params: str) -> httpx.Response:
    """GET ``path`` of a live server as its bootstrapped integration; the answer, checked to be a 2xx."""
    with httpx.Client(base_url=base_url) as http:
        token = http.post("/api/oauth/token", json=TOKEN_REQUEST).json()["access_token"]
        response = http.get(path, params=params, headers={"Authorization": f"Bearer {token}"})
    response.raise_for_status()
    return response


@asynccontextmanager
async def live_client(base_url: str, **options: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An async client of a live server, signed in as its bootstrapped integration."""
    async with httpx.AsyncClient(base_url=base_url, **options) as client:
        token = (await client.post("/api/oauth/token", json=TOKEN_REQUEST)).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def cli_env(settings: Settings) -> dict[str, str]:
    assert settings.database_url and settings.redis_url
    return {
        "CATALOG_IMPORT_DATABASE_URL": settings.database_url,
        "CATALOG_IMPORT_REDIS_URL": settings.redis_url,
        "CATALOG_IMPORT_QUEUE_NAME": settings.queue_name,
        "CATALOG_IMPORT_MEDIA_DIR": str(settings.media_path),
        "CATALOG_IMPORT_MEDIA_ALLOWED_HOSTS": ",".join(settings.media_allowed_hosts),
        "CATALOG_IMPORT_LOG_JSON": "true",
    }


@contextmanager
def serve_process(settings: Settings, tmp_path: Path, **extra_env: str) -> Iterator[str]:
    """``catalog-import serve`` (API and worker) on a loopback port, with an integration bootstrapped from
    the environment (``CLIENT_ID``/``CLIENT_SECRET``) and a queue of its own; yields its base URL."""
    port = free_port()
    queue_name = f"{settings.queue_name}-live-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        **cli_env(settings),
        "CATALOG_IMPORT_QUEUE_NAME": queue_name,
        "CATALOG_IMPORT_BOOTSTRAP_CLIENT_ID": CLIENT_ID,
        "CATALOG_IMPORT_BOOTSTRAP_CLIENT_SECRET": CLIENT_SECRET,
        **extra_env,
    }
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "catalog_import", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, log_path.read_text()
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/ready").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.2)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=30)
            # The worker's health check and whatever jobs it left behind, which would never expire.
            asyncio.run(forget_queue(env["CATALOG_IMPORT_REDIS_URL"], queue_name))
