"""Observability: ``/metrics`` in the Prometheus format (counters of pushed and committed records, batch
durations, media downloads, and the queue and import gauges read at scrape time), and the context the log
lines carry (an import's and a batch's in the commit, a request id and an access line in the API).

The counters are process-wide: the tests read them before and after and compare the difference."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import structlog
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from structlog.testing import capture_logs

from catalog_import.app import create_app
from catalog_import.config import Settings
from catalog_import.imports.repository import ImportRepository
from catalog_import.metrics import ScrapeTimeGauges
from catalog_import.models import Integration
from catalog_import.queue import ImportQueue
from tests.factories import Api, product
from tests.media.servers import LoopbackServer, Reply

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
SOURCE_UP = "catalog_import_metrics_source_up"


@pytest.fixture
async def queue(settings: Settings) -> AsyncIterator[ImportQueue]:
    """A connection to the tests' import queue, to look into it."""
    assert settings.redis_url
    queue = await ImportQueue.connect(
        settings.redis_url, settings.queue_name, settings.commit_jobs_per_import
    )
    yield queue
    await queue.close()


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """A sample's value; 0 for a series not shown (yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def increase(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def committed(entity: str, state: str) -> dict[str, str]:
    return {"entity": entity, "operation": "upsert", "state": state}


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


class TestEndpoint:
    async def test_answers_without_a_token_in_the_prometheus_text_format(
        self, app_client: httpx.AsyncClient
    ) -> None:
        response = await app_client.get("/metrics")

        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == CONTENT_TYPE_PLAIN_0_0_4
        families = {family.name for family in text_string_to_metric_families(response.text)}
        assert {
            "catalog_import_records_pushed",
            "catalog_import_records_committed",
            "catalog_import_batch_duration_seconds",
            "catalog_import_media_downloads",
            "catalog_import_media_download_duration_seconds",
            "catalog_import_media_download_bytes",
            "catalog_import_queue_depth",
            "catalog_import_imports",
            "process_resident_memory_bytes",
        } <= families

    async def test_answers_openmetrics_when_asked(self, app_client: httpx.AsyncClient) -> None:
        response = await app_client.get("/metrics", headers={"Accept": "application/openmetrics-text"})

        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/openmetrics-text")
        assert response.text.endswith("# EOF\n")

    async def test_is_not_part_of_the_api_document(self, app_client: httpx.AsyncClient) -> None:
        document = (await app_client.get("/api/openapi.json")).json()

        assert "/metrics" not in document["paths"]

    async def test_several_apps_in_one_process_each_serve_them(self, settings: Settings) -> None:
        async with running(settings) as first, running(settings) as second:
            first_samples = await scrape(first)
            second_samples = await scrape(second)

        assert value(first_samples, SOURCE_UP, source="database") == 1
        assert value(second_samples, SOURCE_UP, source="database") == 1


class TestImportCounts:
    async def test_an_import_counts_its_pushed_and_written_records_and_its_batches(
        self, api: Api, app_client: httpx.AsyncClient, queue: ImportQueue
    ) -> None:
        before = await scrape(app_client)

        import_id = await api.start()
        await api.push(import_id, {"categories": [{"name": "Metrics"}, {"name": "Counted"}]})
        await api.push(import_id, {"products": [product("MET-1"), product("MET-2"), product("MET-3")]})
        rejected = await api.push(import_id, {"products": [{"productNumber": "MET-BAD"}]})
        status = await api.commit_and_run(import_id)
        after = await scrape(app_client)

        assert rejected["containsErrors"]
        assert status["status"] == "done"
        pushed = "catalog_import_records_pushed_total"
        assert increase(before, after, pushed, entity="category", operation="upsert", outcome="staged") == 2
        assert increase(before, after, pushed, entity="product", operation="upsert", outcome="staged") == 3
        assert increase(before, after, pushed, entity="product", operation="upsert", outcome="rejected") == 1
        # The products' tax is a nested creation: committed as a record of its own, not pushed as a root.
        assert increase(before, after, pushed, entity="tax", operation="upsert", outcome="staged") == 0
        written = "catalog_import_records_committed_total"
        assert increase(before, after, written, **committed("category", "written")) == 2
        assert increase(before, after, written, **committed("product", "written")) == 3
        assert increase(before, after, written, **committed("tax", "written")) == 1
        assert increase(before, after, written, **committed("product", "failed")) == 0
        # One batch per level at this size: categories and the tax, then the products.
        batches = increase(before, after, "catalog_import_batch_duration_seconds_count")
        assert batches == status["progress"]["levels"] >= 2
        assert increase(before, after, "catalog_import_batch_duration_seconds_sum") > 0

    async def test_a_failed_download_fails_its_records_and_counts_the_download(
        self, api: Api, app_client: httpx.AsyncClient, queue: ImportQueue
    ) -> None:
        with LoopbackServer() as server:
            good = server.image("/good.png")
            missing = server.url("/missing.png")
            before = await scrape(app_client)

            status = await api.import_records(
                {
                    "products": [
                        product("MET-MEDIA-OK", media=[{"url": good}]),
                        product("MET-MEDIA-404", media=[{"url": missing}]),
                    ]
                }
            )
            after = await scrape(app_client)

        assert status["totals"]["failures"] == 1
        written = "catalog_import_records_committed_total"
        assert increase(before, after, written, **committed("product", "written")) == 1
        assert increase(before, after, written, **committed("product", "failed")) == 1
        assert increase(before, after, written, **committed("media", "written")) == 1
        assert increase(before, after, written, **committed("media", "failed")) == 1
        downloads = "catalog_import_media_downloads_total"
        assert increase(before, after, downloads, outcome="ok") == 1
        assert increase(before, after, downloads, outcome="MEDIA_DOWNLOAD_FAILED") == 1
        assert increase(before, after, "catalog_import_media_download_duration_seconds_count") == 2
        assert increase(before, after, "catalog_import_media_download_bytes_count") == 1
        assert increase(before, after, "catalog_import_media_download_bytes_sum") == len(
            server.png("/good.png")
        )


class TestScrapeTimeGauges:
    async def test_imports_by_status_and_the_queue_depth_are_read_when_scraped(
        self, api: Api, app_client: httpx.AsyncClient, queue: ImportQueue
    ) -> None:
        await api.start("open")
        committed_id = await api.start("committed")
        before = await scrape(app_client)

        await api.commit(committed_id)
        after = await scrape(app_client)
        depth = await queue.depth()

        assert value(before, "catalog_import_imports", status="started") == 2
        assert value(after, "catalog_import_imports", status="started") == 1
        assert value(after, "catalog_import_imports", status="importing") == 1
        assert value(after, "catalog_import_imports", status="done") == 0
        assert value(after, "catalog_import_imports", status="cancelled") == 0
        assert increase(before, after, "catalog_import_queue_depth") == queue.jobs_per_import
        assert value(after, "catalog_import_queue_depth") == depth
        assert value(after, SOURCE_UP, source="redis") == 1

    async def test_a_source_that_does_not_answer_leaves_its_gauge_out(
        self, api: Api, queue: ImportQueue
    ) -> None:
        class Unreachable(ImportQueue):
            async def depth(self) -> int:
                raise ConnectionError("Redis is away")

        async def imports_by_status() -> dict[str, int]:
            async with api.session_factory() as session:
                return await ImportRepository(session).count_by_status()

        gauges = ScrapeTimeGauges(
            Unreachable(queue.pool, queue.queue_name, queue.jobs_per_import), imports_by_status
        )

        await gauges.refresh()

        families = {family.name: family for family in gauges.collect()}
        assert "catalog_import_queue_depth" not in families
        assert "catalog_import_imports" in families
        up = {sample.labels["source"]: sample.value for sample in families[SOURCE_UP].samples}
        assert up == {"redis": 0, "database": 1}


def rendered_keys() -> list[Any]:
    """The processors that decide the keys of a rendered line, applied before lines are captured."""
    return [structlog.contextvars.merge_contextvars, structlog.processors.add_log_level]


class TestLogContext:
    async def test_lines_of_a_commit_carry_the_import_and_those_of_a_batch_the_batch(
        self, api: Api, queue: ImportQueue
    ) -> None:
        with LoopbackServer() as server:
            # Answered with a 503 first: the downloader logs its retry, inside the media's batch.
            url = server.serve("/flaky.png", Reply(503, b"busy", "text/plain"), Reply(body=server.png("/f")))
            import_id = await api.start()
            await api.push(import_id, {"products": [product("MET-LOG-1", media=[{"url": url}])]})
            await api.commit(import_id)

            with capture_logs(processors=rendered_keys()) as lines:
                status = await api.run(import_id)

        assert status["status"] == "done", status
        commit_lines = [line for line in lines if line["event"] != "request"]
        assert commit_lines
        assert all(line.get("import_id") == uuid.UUID(import_id).hex for line in commit_lines), commit_lines
        (retried,) = [line for line in commit_lines if line["event"] == "media download retried"]
        assert retried["level"] == "info"
        assert isinstance(retried["batch_level"], int)
        assert isinstance(retried["batch_id"], str)
        assert retried["batch_id"]
        (done,) = [line for line in commit_lines if line["event"] == "import done"]
        assert "batch_level" not in done
        assert "batch_id" not in done

    async def test_a_request_gets_an_access_line_with_its_id_and_integration(self, api: Api) -> None:
        async with api.session_factory() as session:
            integration_id = await session.scalar(
                select(Integration.id).where(Integration.client_id == api.client_id)
            )
        assert integration_id is not None

        with capture_logs(processors=rendered_keys()) as lines:
            response = await api.client.get(
                "/api/import", headers={**api.headers, "X-Request-ID": "req-42.a"}
            )
            anonymous = await api.client.get("/api/import")

        assert response.status_code == 200
        assert response.headers["x-request-id"] == "req-42.a"
        assert anonymous.status_code == 401
        generated = anonymous.headers["x-request-id"]
        assert len(generated) == 32
        access = [line for line in lines if line["event"] == "request"]
        assert [(line["request_id"], line["status"], line["integration_id"]) for line in access] == [
            ("req-42.a", 200, integration_id.hex),
            (generated, 401, None),
        ]
        assert all(line["method"] == "GET" and line["path"] == "/api/import" for line in access)
        assert all(line["level"] == "info" and line["seconds"] >= 0 for line in access)

    async def test_a_request_id_that_is_not_a_plain_token_is_replaced(self, api: Api) -> None:
        response = await api.client.get("/health", headers={"X-Request-ID": "no spaces\tplease"})

        assert response.headers["x-request-id"] != "no spaces\tplease"
        assert len(response.headers["x-request-id"]) == 32
