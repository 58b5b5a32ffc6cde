"""The `catalog-import` command: integrations, migrations, purge, the OpenAPI document, and `serve` as a real
process (API plus its in-process worker) over loopback HTTP."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from typer.testing import CliRunner

from catalog_import.app import openapi_document
from catalog_import.cli import app
from catalog_import.config import Settings
from catalog_import.embedded import free_port, redis_answers
from catalog_import.queue import forget_queue
from tests.factories import Api, assert_error, product
from tests.live import cli_env

ROOT = Path(__file__).resolve().parents[2]


class TestIntegrationCreate:
    async def test_prints_credentials_that_get_a_token(
        self, settings: Settings, app_client: httpx.AsyncClient
    ) -> None:
        result = await asyncio.to_thread(
            CliRunner().invoke, app, ["integration", "create", "pim-sync", "--json"], env=cli_env(settings)
        )

        assert result.exit_code == 0, result.output
        credentials = json.loads(result.stdout.strip().splitlines()[-1])
        assert set(credentials) == {"clientId", "clientSecret", "webhookSecret"}
        response = await app_client.post(
            "/api/oauth/token",
            json={
                "grant_type": "client_credentials",
                "client_id": credentials["clientId"],
                "client_secret": credentials["clientSecret"],
            },
        )
        assert response.status_code == 200
        assert response.json()["token_type"] == "Bearer"

    async def test_prints_a_table_without_json(self, settings: Settings) -> None:
        result = await asyncio.to_thread(
            CliRunner().invoke, app, ["integration", "create", "dam"], env=cli_env(settings)
        )

        assert result.exit_code == 0, result.output
        assert "client secret" in result.stdout


class TestMigrate:
    async def test_an_up_to_date_database_stays_so(self, settings: Settings) -> None:
        result = await asyncio.to_thread(CliRunner().invoke, app, ["migrate"], env=cli_env(settings))

        assert result.exit_code == 0, result.output
        assert "up to date" in result.stdout


class TestPurge:
    async def test_purges_the_imports_past_the_period_once(self, settings: Settings, api: Api) -> None:
        old = await api.start()
        await api.push(old, {"products": [product("PURGED-1")]})
        recent = await api.start()
        async with api.session_factory() as session, session.begin():
            await session.execute(
                text(
                    "UPDATE imports SET start_time = now() - interval '3 days', "
                    "last_push_at = now() - interval '3 days' WHERE id = :id"
                ),
                {"id": old},
            )

        result = await asyncio.to_thread(
            CliRunner().invoke, app, ["purge", "--older-than-days", "2"], env=cli_env(settings)
        )

        assert result.exit_code == 0, result.output
        assert "purged 1 imports older than 2 days (2 staged records" in result.stdout
        assert_error(await api.get(f"/api/import/{old}/status"), 404, "IMPORT_NOT_FOUND")
        assert (await api.status(recent))["status"] == "started"


class TestOpenApi:
    def test_committed_document_matches_the_app(self) -> None:
        committed = (ROOT / "openapi" / "openapi.json").read_text()

        assert committed == openapi_document(), "run `catalog-import openapi` to update openapi/openapi.json"

    def test_command_writes_the_document(self, tmp_path: Path) -> None:
        output = tmp_path / "api.json"

        result = CliRunner().invoke(app, ["openapi", "--output", str(output)])

        assert result.exit_code == 0, result.output
        assert json.loads(output.read_text())["info"]["title"] == "Catalog Import API"


@pytest.mark.workers
class TestServe:
    async def test_serves_the_api_and_imports_with_its_own_worker(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        port = free_port()
        env = {
            **os.environ,
            **cli_env(settings),
            "CATALOG_IMPORT_BOOTSTRAP_CLIENT_ID": "serve-test",
            "CATALOG_IMPORT_BOOTSTRAP_CLIENT_SECRET": "serve-test-secret",
            # A queue of its own: its worker takes only the import of this test.
            "CATALOG_IMPORT_QUEUE_NAME": f"{settings.queue_name}-serve",
        }
        log = (tmp_path / "serve.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "catalog_import", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                await wait_for_health(client, process, tmp_path / "serve.log")
                status = await import_one_product(client)
                metrics = await client.get("/metrics")
        finally:
            process.terminate()
            process.wait(timeout=20)
            log.close()
            assert settings.redis_url
            await forget_queue(settings.redis_url, env["CATALOG_IMPORT_QUEUE_NAME"])

        assert status["status"] == "done"
        assert status["totals"]["product"] == 1
        # The API and its worker share the process, and so their metrics.
        assert metrics.status_code == 200
        written = {"entity": "product", "operation": "upsert", "state": "written"}
        assert sample(metrics.text, "catalog_import_records_committed_total", written) == 1
        # uvicorn shuts down gracefully, then the process exits with the code of the signal it was sent.
        assert process.returncode == 128 + signal.SIGTERM, (tmp_path / "serve.log").read_text()
        assert "Application shutdown complete" in (tmp_path / "serve.log").read_text()

    def test_on_embedded_servers_logs_json_lines_and_stops_them_when_terminated(self, tmp_path: Path) -> None:
        port = free_port()
        data_dir = tmp_path / "var"
        env = {key: value for key, value in os.environ.items() if not key.startswith("CATALOG_IMPORT_")}
        log_path = tmp_path / "serve.log"
        with log_path.open("wb") as log:  # not a terminal
            process = subprocess.Popen(
                [sys.executable, "-m", "catalog_import", "serve", "--port", str(port)],
                env={**env, "CATALOG_IMPORT_DATA_DIR": str(data_dir)},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                asyncio.run(wait_until_ready(port, process, log_path))
                redis_port = int((data_dir / "redis" / "redis.port").read_text())
                assert (data_dir / "postgres" / "postmaster.pid").exists()
            finally:
                process.terminate()
                process.wait(timeout=60)

        assert process.returncode == 128 + signal.SIGTERM, log_path.read_text()
        assert not redis_answers(redis_port)
        assert not (data_dir / "redis" / "redis.port").exists()
        assert not (data_dir / "postgres" / "postmaster.pid").exists()

        lines = log_path.read_text().splitlines()
        entries = [json.loads(line) for line in lines]  # every line, uvicorn's and arq's too
        events = {entry["event"]: entry for entry in entries}
        assert events["serving"]["url"] == f"http://127.0.0.1:{port}"
        assert events["embedded servers"]["data_dir"] == str(data_dir.resolve())
        assert any("integration create" in event for event in events)
        assert any(entry.get("logger", "").startswith("uvicorn") for entry in entries)
        assert any(entry.get("logger", "").startswith("arq") for entry in entries)
        # The embedded PostgreSQL's set-up went to a file of its own, not to the server's log.
        assert "initdb" in (data_dir / "postgres-setup.log").read_text()
        assert not any("initdb" in line for line in lines)


@pytest.mark.workers
class TestWorker:
    async def test_serves_its_metrics_on_the_port_asked_for(self, settings: Settings, tmp_path: Path) -> None:
        port = free_port()
        log_path = tmp_path / "worker.log"
        log = log_path.open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "catalog_import", "worker", "--metrics-port", str(port)],
            env={**os.environ, **cli_env(settings)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                response = await wait_for_metrics(client, process, log_path)
        finally:
            process.terminate()
            process.wait(timeout=20)
            log.close()

        assert response.headers["content-type"].startswith("text/plain")
        families = {family.name for family in text_string_to_metric_families(response.text)}
        assert {
            "catalog_import_records_committed",
            "catalog_import_batch_duration_seconds",
            "catalog_import_media_downloads",
            "process_cpu_seconds",
        } <= families
        # Read from Redis and the database by the API's /metrics, not by every worker.
        assert "catalog_import_queue_depth" not in families
        assert f"http://127.0.0.1:{port}/metrics" in log_path.read_text()


def sample(exposition: str, name: str, labels: dict[str, str]) -> float | None:
    for family in text_string_to_metric_families(exposition):
        for found in family.samples:
            if found.name == name and found.labels == labels:
                return found.value
    return None


async def wait_for_metrics(
    client: httpx.AsyncClient, process: subprocess.Popen[bytes], log: Path
) -> httpx.Response:
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, log.read_text()
        try:
            response = await client.get("/metrics")
            if response.status_code == 200:
                return response
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        await asyncio.sleep(0.2)


async def wait_for_health(client: httpx.AsyncClient, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, log.read_text()
        try:
            if (await client.get("/ready")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        await asyncio.sleep(0.2)


async def wait_until_ready(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        await wait_for_health(client, process, log)


async def import_one_product(client: httpx.AsyncClient) -> dict[str, Any]:
    token = (
        await client.post(
            "/api/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "serve-test",
                "client_secret": "serve-test-secret",
            },
        )
    ).json()["access_token"]
    client.headers["Authorization"] = f"Bearer {token}"
    import_id = (await client.post("/api/import/catalog/start", json={"name": "served"})).json()["id"]
    pushed = await client.post(f"/api/import/{import_id}/record", json={"products": [product("SERVED-1")]})
    assert pushed.status_code == 200, pushed.text
    assert (await client.post(f"/api/import/{import_id}/commit")).status_code == 204
    deadline = time.monotonic() + 30
    while True:
        status: dict[str, Any] = (await client.get(f"/api/import/{import_id}/status")).json()
        if status["status"] == "done" or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.2)
