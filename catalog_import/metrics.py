"""Prometheus metrics: what the API and the workers count as they go, and the gauges read when scraped.

The counters and histograms of events (records pushed, records settled by commit batches, batch durations,
media downloads) are module-level objects, the usual prometheus-client idiom. They are counted where the
events happen — the push service, the commit runner, the media downloader — in whichever process runs them
(the API, a worker, or both under ``serve``); a registry handed down to each of those layers would add a
parameter everywhere and change nothing. They are created without a registry. Each app (``AppMetrics``)
and each worker's metrics server (``worker_registry``) builds a ``CollectorRegistry`` of its own that
collects them together with what belongs to that app or process: the process metrics and, for an app, the
gauges read through its queue and its database sessions at scrape time. Several apps in one process (as
in the tests) therefore never register anything twice."""

import asyncio
import time
from collections import Counter as Tally
from collections.abc import Awaitable, Callable, Iterable
from wsgiref.simple_server import WSGIServer

import structlog
from fastapi import APIRouter, Request, Response
from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
    start_http_server,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from catalog_import.models import ImportStatus
from catalog_import.queue import ImportQueue

logger = structlog.get_logger(__name__)

ENTITIES = ("tax", "category", "media", "product")
# Custom entities carry names chosen by the caller; they share one label value to bound the series.
OTHER_ENTITY = "custom"
DOWNLOAD_OUTCOMES = (
    "ok",
    "MEDIA_DOWNLOAD_FAILED",
    "MEDIA_URL_FORBIDDEN",
    "MEDIA_TOO_LARGE",
    "MEDIA_TYPE_NOT_ALLOWED",
)

RECORDS_PUSHED = Counter(
    "catalog_import_records_pushed",
    "Root records pushed to imports, by entity, operation (upsert, delete, unassign) and outcome "
    "(staged, or rejected with an error).",
    ["entity", "operation", "outcome"],
    registry=None,
)
RECORDS_COMMITTED = Counter(
    "catalog_import_records_committed",
    "Staged records settled by commit batches, by entity, operation and state (written, failed, skipped).",
    ["entity", "operation", "state"],
    registry=None,
)
BATCH_SECONDS = Histogram(
    "catalog_import_batch_duration_seconds",
    "Time to write one commit batch, from its claim to the commit of its transaction.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
    registry=None,
)
MEDIA_DOWNLOADS = Counter(
    "catalog_import_media_downloads",
    "Media fetched from their URLs, by outcome: ok, or the problem code of the failure.",
    ["outcome"],
    registry=None,
)
MEDIA_DOWNLOAD_SECONDS = Histogram(
    "catalog_import_media_download_duration_seconds",
    "Time to fetch one media, retries included, from the moment it got a download slot.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80),
    registry=None,
)
MEDIA_DOWNLOAD_BYTES = Histogram(
    "catalog_import_media_download_bytes",
    "Size of the media files downloaded.",
    buckets=tuple(2**power for power in range(10, 28, 2)),
    registry=None,
)
WEBHOOK_ATTEMPTS = Counter(
    "catalog_import_webhook_attempts",
    "Webhook delivery attempts, by event and outcome: delivered, retry (failed, tried again later) or "
    "failed (given up).",
    ["event", "outcome"],
    registry=None,
)
EVENT_METRICS: tuple[Collector, ...] = (
    RECORDS_PUSHED,
    RECORDS_COMMITTED,
    BATCH_SECONDS,
    MEDIA_DOWNLOADS,
    MEDIA_DOWNLOAD_SECONDS,
    MEDIA_DOWNLOAD_BYTES,
    WEBHOOK_ATTEMPTS,
)

# Series exist from the start, so that the first event shows as an increase rather than a new series.
for _entity in ENTITIES:
    for _outcome in ("staged", "rejected"):
        RECORDS_PUSHED.labels(_entity, "upsert", _outcome)
    for _state in ("written", "failed", "skipped"):
        RECORDS_COMMITTED.labels(_entity, "upsert", _state)
for _outcome in DOWNLOAD_OUTCOMES:
    MEDIA_DOWNLOADS.labels(_outcome)
for _event in ("import.failures", "import.done"):
    for _outcome in ("delivered", "retry", "failed"):
        WEBHOOK_ATTEMPTS.labels(_event, _outcome)


def entity_label(entity: str) -> str:
    return entity if entity in ENTITIES else OTHER_ENTITY


# -- counting ---------------------------------------------------------------------------------------------


def count_pushed(operation: str, outcomes: Iterable[tuple[str, bool]]) -> None:
    """Count the root records of one push: ``(entity, rejected)`` each."""
    for (entity, rejected), count in Tally(outcomes).items():
        outcome = "rejected" if rejected else "staged"
        RECORDS_PUSHED.labels(entity_label(entity), operation, outcome).inc(count)


def count_batch(seconds: float, settled: Iterable[tuple[str, str, str]]) -> None:
    """Count one committed batch: its duration and its records as ``(entity, operation, state)``."""
    BATCH_SECONDS.observe(seconds)
    for (entity, operation, state), count in Tally(settled).items():
        RECORDS_COMMITTED.labels(entity_label(entity), operation, state).inc(count)


class MediaDownloadMeter:
    """Counts one media fetch by its outcome and observes its duration and, once stored, its size."""

    def __init__(self) -> None:
        self._started: float | None = None

    def start(self) -> None:
        """The download begins (it got its slot); the time spent before is not counted."""
        self._started = time.perf_counter()

    def done(self, outcome: str, size: int | None = None) -> None:
        MEDIA_DOWNLOADS.labels(outcome).inc()
        if self._started is not None:
            MEDIA_DOWNLOAD_SECONDS.observe(time.perf_counter() - self._started)
        if size is not None:
            MEDIA_DOWNLOAD_BYTES.observe(size)


# -- registries -------------------------------------------------------------------------------------------


def register_process_metrics(registry: CollectorRegistry) -> None:
    """Memory, CPU and open files of the process, its garbage collector, and the Python version."""
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        registry.register(collector)


def worker_registry() -> CollectorRegistry:
    """What a worker process serves: the event metrics and the process metrics. The queue and import
    gauges are the same whoever reads them and are left to the API's ``/metrics``."""
    registry = CollectorRegistry()
    register_process_metrics(registry)
    for metric in EVENT_METRICS:
        registry.register(metric)
    return registry


def serve_worker_metrics(host: str, port: int) -> WSGIServer:
    """Serve this worker's metrics over HTTP from a background thread; ``shutdown()`` the result to stop."""
    server, _thread = start_http_server(port, addr=host, registry=worker_registry())
    return server


QUEUE_DEPTH = "catalog_import_queue_depth"
IMPORTS = "catalog_import_imports"
SOURCE_UP = "catalog_import_metrics_source_up"


class ScrapeTimeGauges(Collector):
    """The gauges read when ``/metrics`` is scraped: the jobs waiting in the arq queue (deferred retries
    included) and the imports in each status. Reading them needs Redis and the database, which answer
    asynchronously, while collectors are called synchronously: ``refresh`` is awaited before each scrape
    and ``collect`` reports what it read. A source that does not answer in time leaves its gauge out and
    sets ``catalog_import_metrics_source_up`` for it to 0."""

    def __init__(
        self,
        queue: ImportQueue,
        imports_by_status: Callable[[], Awaitable[dict[str, int]]],
        *,
        timeout_seconds: float = 2.0,
    ) -> None:
        self.queue = queue
        # How many imports are in each status (statuses without any may be left out): the database's
        # answer, handed in by the app.
        self.count_imports = imports_by_status
        self.timeout_seconds = timeout_seconds
        self.queue_depth: int | None = None
        self.imports_by_status: dict[str, int] | None = None

    async def refresh(self) -> None:
        try:
            async with asyncio.timeout(self.timeout_seconds):
                self.queue_depth = await self.queue.depth()
        except Exception as exc:  # any failure leaves the gauge out
            self.queue_depth = None
            logger.warning("queue depth not read for metrics", error=repr(exc))
        try:
            async with asyncio.timeout(self.timeout_seconds):
                counts = await self.count_imports()
            self.imports_by_status = {status.value: counts.get(status.value, 0) for status in ImportStatus}
        except Exception as exc:
            self.imports_by_status = None
            logger.warning("imports by status not read for metrics", error=repr(exc))

    def _families(self) -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(QUEUE_DEPTH, "Jobs in the import queue (Redis), deferred retries included."),
            GaugeMetricFamily(IMPORTS, "Imports of all integrations in each status.", labels=["status"]),
            GaugeMetricFamily(
                SOURCE_UP, "Whether the last scrape could read the source of its gauges.", labels=["source"]
            ),
        )

    def describe(self) -> Iterable[Metric]:
        return self._families()

    def collect(self) -> Iterable[Metric]:
        depth, imports, up = self._families()
        up.add_metric(["redis"], 0 if self.queue_depth is None else 1)
        up.add_metric(["database"], 0 if self.imports_by_status is None else 1)
        families: list[Metric] = [up]
        if self.queue_depth is not None:
            depth.add_metric([], self.queue_depth)
            families.append(depth)
        if self.imports_by_status is not None:
            for status, count in self.imports_by_status.items():
                imports.add_metric([status], count)
            families.append(imports)
        return families


class AppMetrics:
    """The metrics one app serves at ``/metrics``, in a registry of its own: the event metrics of the
    process (those of an in-process worker included), the process metrics, and the scrape-time gauges."""

    def __init__(self, gauges: ScrapeTimeGauges) -> None:
        self.gauges = gauges
        self.registry = CollectorRegistry()
        register_process_metrics(self.registry)
        for metric in EVENT_METRICS:
            self.registry.register(metric)
        self.registry.register(gauges)
        # One scrape at a time reads the gauges and renders them.
        self._lock = asyncio.Lock()

    async def render(self, accept: str | None) -> tuple[bytes, str]:
        """The exposition in the format ``accept`` asks for (Prometheus text unless OpenMetrics): body and
        content type."""
        encoder, content_type = choose_encoder(accept or "")
        async with self._lock:
            await self.gauges.refresh()
            return encoder(self.registry), content_type


router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus metrics; no token (scraped by operators' monitoring, not called by integrations)."""
    app_metrics: AppMetrics = request.app.state.metrics
    body, content_type = await app_metrics.render(request.headers.get("accept"))
    return Response(body, media_type=content_type)
