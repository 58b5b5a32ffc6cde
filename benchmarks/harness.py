"""The benchmark harness: the PERFORMANCE.md workload driven over HTTP through real server processes,
against the COPY baseline (A1) and a minimal ingest endpoint measured in the same run on the same
servers, reported against the targets P1–P9.

    .venv/bin/python -m benchmarks [--products N] [--peer-products N] [--batch-size B]
                                   [--database-url URL] [--redis-url URL] [--time-limit SECONDS]
                                   [--skip-minimal] [--skip-reimport] [--skip-validation]
                                   [--skip-two-workers] [--skip-peer] [--skip-media] [--skip-media-downloads]
                                   [--no-append]

Everything runs on 127.0.0.1: one API process (``catalog-import serve --no-worker``), one and then two
worker processes (``catalog-import worker``, one job each, two jobs queued per import, so that two
workers share an import), the minimal endpoint (uvicorn, one process), and a file server for the
workload's images. The harness pushes with 4 concurrent clients in 1000-record bodies, commits, and polls
the import's status until it is done; it samples the resident memory of every process. It prints a table
of absolute figures, ratios and targets met, and appends one row to ``benchmarks/results.md``. See
``benchmarks/README.md`` for the steps and the columns."""

import argparse
import asyncio
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import orjson
from rich.console import Console
from rich.table import Table
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine

from benchmarks import media_downloads
from benchmarks.api import ApiClient, push_bodies
from benchmarks.common import (
    LOOPBACK,
    PROJECT_ROOT,
    add_server_options,
    append_row,
    benchmark_run,
    console,
    file_server,
    percentile,
    show,
)
from benchmarks.minimal_endpoint import STAGING_TABLE
from benchmarks.processes import Processes, ProcessSampler, Server, ServerSettings, minimal_endpoint
from benchmarks.workload import (
    TAXES,
    Baseline,
    ExpectedCatalog,
    ProductSpec,
    category_records,
    check_catalog,
    database_now,
    image_name,
    measure_baseline,
    products_written_since,
    specs,
    tax_records,
    write_images,
)
from catalog_import.db import create_engine
from catalog_import.queue import forget_queue

RESULTS_FILE = Path(__file__).resolve().parent / "results.md"

PUSH_SIZE = 1000
PUSH_CLIENTS = 4
PEER_CHUNK = 100
# The peer's bulk-create figures PERFORMANCE.md quotes (products/s), by requests in flight; the peer is
# not run here.
PEER_QUOTED = {1: 120.0, 2: 265.0}
POLL_SECONDS = 0.5
MEDIA_DOWNLOADS_FILES = 1000
MEDIA_DOWNLOADS_CONCURRENCY = 16

# Product series: one per import of new products; the re-imports push series 1 again.
NEW_SERIES, SECOND_SERIES = 1, 2
# The products of the validated import (validated, then committed).
VALIDATED_SERIES = 7
PEER_SERIES = {1: 3, 2: 4}
# The media commit (M1): workers → the series of its products and of their images.
MEDIA_COMMIT_SERIES = {2: 5, 1: 6}

# The targets of PERFORMANCE.md.
A1_ONE_WORKER, A1_TWO_WORKERS, A1_CHANGED, A1_UNCHANGED = 1.0, 1.8, 1.7, 2.5
MINIMAL_RATIO, PUSH_P50_MS = 0.9, 300.0
END_TO_END_100K_SECONDS, END_TO_END_1M_SECONDS = 12.0, 150.0
PEER_FACTOR = 50.0
API_RSS_MB, WORKER_GROWTH_MB = 150.0, 50.0
# P9: the Downloader against plain GETs of the same client.
DOWNLOADS_RATIO = 0.9
# M1: media per second with 2 workers, worker CPU per media.
MEDIA_PER_SECOND, MEDIA_WORKER_CPU_MS = 3300.0, 0.6


# -- figures -------------------------------------------------------------------------------------------


@dataclass
class ImportFigures:
    """One import of ``products`` roots: pushed, committed and polled until done. ``commit_seconds`` is
    the server's own ``commitTime`` → ``endTime``; ``end_to_end_seconds`` runs from the first push to
    ``endTime``; ``prepare_seconds`` from ``commitTime`` to the worker's "import prepared" log line."""

    products: int
    push_seconds: float
    push_latencies: list[float]
    commit_seconds: float
    end_to_end_seconds: float
    prepare_seconds: float | None
    status_latencies: list[float]
    written: int | None = None
    # Validated before the commit: the validation's ``startTime`` → ``endTime``.
    validation_seconds: float | None = None

    @property
    def per_second(self) -> float:
        return self.products / self.commit_seconds

    @property
    def push_per_second(self) -> float:
        return self.products / self.push_seconds

    @property
    def end_to_end_per_second(self) -> float:
        return self.products / self.end_to_end_seconds

    def push_ms(self, percent: int) -> float | None:
        value = percentile(self.push_latencies, percent)
        return None if value is None else value * 1000


@dataclass
class MemoryFigures:
    """Peak resident memory in MB per process (``peaks``), the API's under the pushes, and the workers'
    RSS once ready (``ready``)."""

    peaks: dict[str, float] = field(default_factory=dict)
    api_under_push: float | None = None
    ready: dict[str, float] = field(default_factory=dict)
    backend_largest: float | None = None
    backend_private_sum: float | None = None
    backends: int = 0

    def worker_growth(self) -> float | None:
        growth = [self.peaks[name] - rss for name, rss in self.ready.items() if name in self.peaks]
        return max(growth) if growth else None


@dataclass
class Figures:
    """What one run measured; a step that did not run (skipped, or the time limit) leaves its figure
    empty."""

    products: int
    peer_products: int
    batch_size: int
    with_media: bool
    # API processes of the server, and processes of the minimal endpoint.
    api_processes: int = 1
    server_version: str = ""
    record_bytes: float = 0.0
    baseline: Baseline | None = None
    minimal: ImportFigures | None = None
    setup: ImportFigures | None = None
    image_bytes: float = 0.0
    setup_workers: int = 0
    new_one: ImportFigures | None = None
    unchanged: ImportFigures | None = None
    changed: ImportFigures | None = None
    validated: ImportFigures | None = None
    new_two: ImportFigures | None = None
    peer: dict[int, ImportFigures] = field(default_factory=dict)
    downloads: media_downloads.MediaFigures | None = None
    # The media commits (M1) and the plain GETs of their files, by workers.
    media_commit: dict[int, ImportFigures] = field(default_factory=dict)
    media_gets: dict[int, media_downloads.Phase] = field(default_factory=dict)
    memory: MemoryFigures = field(default_factory=MemoryFigures)
    # CPU seconds by (phase, process), and the wall time of each phase.
    cpu: dict[tuple[str, str], float] = field(default_factory=dict)
    phase_seconds: dict[str, float] = field(default_factory=dict)
    phase: str = "setup"
    stopped: str | None = None
    skipped: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0

    def to_a1(self, figures: ImportFigures | None) -> float | None:
        if figures is None or self.baseline is None:
            return None
        return figures.per_second / self.baseline.products_per_second

    def push_to_minimal(self) -> float | None:
        if self.new_one is None or self.minimal is None:
            return None
        return self.new_one.push_per_second / self.minimal.push_per_second


# -- talking to the server -----------------------------------------------------------------------------


def timestamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def prepared_at(log_files: Sequence[Path], import_id: uuid.UUID) -> datetime | None:
    """When a worker logged "import prepared" for ``import_id`` (JSON log lines)."""
    for log in log_files:
        with suppress(OSError), log.open("rb") as lines:
            for line in lines:
                if b"import prepared" not in line or import_id.hex.encode() not in line:
                    continue
                with suppress(orjson.JSONDecodeError, KeyError, ValueError):
                    return timestamp(orjson.loads(line)["timestamp"])
    return None


@dataclass
class Run:
    """What the steps share: the figures, the API, the server processes and the database."""

    figures: Figures
    api: ApiClient
    server: Server
    sampler: ProcessSampler
    engine: AsyncEngine
    media_base: str | None
    expected: ExpectedCatalog = field(default_factory=ExpectedCatalog)
    imports: list[uuid.UUID] = field(default_factory=list)
    media_since: datetime | None = None

    def begin(self, phase: str, description: str) -> None:
        """Start a step: ``phase`` names it in the figures, ``description`` in the progress log."""
        self.figures.phase = phase
        self.sampler.phase = phase
        console.log(description)

    async def push_and_commit(
        self,
        name: str,
        count: int,
        body_from: Callable[[int], dict[str, Any]],
        *,
        chunk: int = PUSH_SIZE,
        clients: int = PUSH_CLIENTS,
        validate: bool = False,
    ) -> ImportFigures:
        """Start an import, push ``count`` products in bodies of ``chunk`` from ``clients`` concurrent
        clients, commit, and poll the status until done. The import must end with ``count`` products
        written and no failure. ``validate``: validate it before the commit, and check that the validation
        found what the commit then does and left the catalog as it was."""
        import_id = await self.api.start(name)
        self.imports.append(import_id)

        async def send(body: bytes) -> None:
            await self.api.push(import_id, body)

        self.sampler.phase = f"{self.figures.phase}: push"
        pushed_at = datetime.now(UTC)
        started = time.perf_counter()
        latencies = await push_bodies(send, range(0, count, chunk), body_from, clients)
        push_seconds = time.perf_counter() - started
        validation_seconds = await self.validate(import_id, count) if validate else None
        self.sampler.phase = f"{self.figures.phase}: commit"
        await self.api.commit(import_id)
        status, status_latencies = await self.wait_until_done(import_id)
        self.sampler.phase = f"{self.figures.phase}: checks"
        totals = status["totals"]
        if totals["failures"] or status["failures"] or totals["product"] != count:
            raise RuntimeError(f"the import did not end as expected: {str(status)[:2000]}")
        committed, ended = timestamp(status["commitTime"]), timestamp(status["endTime"])
        prepared = prepared_at(self.server.worker_logs, import_id)
        return ImportFigures(
            products=count,
            push_seconds=push_seconds,
            push_latencies=latencies,
            commit_seconds=(ended - committed).total_seconds(),
            end_to_end_seconds=(ended - pushed_at).total_seconds(),
            prepare_seconds=None if prepared is None else (prepared - committed).total_seconds(),
            status_latencies=status_latencies,
            validation_seconds=validation_seconds,
        )

    async def validate(self, import_id: uuid.UUID, count: int) -> float:
        """Validate the import and wait for the validation: its seconds, by the server's times."""
        self.sampler.phase = f"{self.figures.phase}: validate"
        await self.api.validate(import_id)
        while True:
            validation = (await self.api.status(import_id))["validation"]
            if validation["status"] == "done":
                break
            await asyncio.sleep(POLL_SECONDS)
        totals = validation["totals"]
        if totals["failures"] or validation["failures"] or totals["product"] != count:
            raise RuntimeError(f"the validation did not find what was expected: {str(validation)[:2000]}")
        # Nothing of it reached the catalog.
        await self.check()
        return (timestamp(validation["endTime"]) - timestamp(validation["startTime"])).total_seconds()

    async def wait_until_done(self, import_id: uuid.UUID) -> tuple[dict[str, Any], list[float]]:
        latencies: list[float] = []
        while True:
            started = time.perf_counter()
            status = await self.api.status(import_id)
            latencies.append(time.perf_counter() - started)
            if status["status"] == "done":
                return status, latencies
            if status["status"] != "importing":
                raise RuntimeError(f"the import ended as {status['status']}: {str(status)[:2000]}")
            for name in self.server.workers:
                self.server.processes.check(self.server.processes.running[name], name)
            await asyncio.sleep(POLL_SECONDS)

    def product_bodies(self, series: int, count: int, revision: int = 0) -> Callable[[int], dict[str, Any]]:
        def body(start: int) -> dict[str, Any]:
            chunk = specs(series, count, start, PUSH_SIZE, self.media_base, revision)
            return {"products": [spec.record() for spec in chunk]}

        return body

    async def check(self) -> None:
        await check_catalog(self.engine, self.expected, self.media_since)


# -- the steps -----------------------------------------------------------------------------------------


async def measure_minimal(
    figures: Figures, processes: Processes, database_url: str, media_base: str | None
) -> None:
    """The minimal endpoint in a process of its own, fed the bodies of the first import's push."""
    count = figures.products
    with minimal_endpoint(processes, database_url, figures.api_processes) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=600, trust_env=False) as client:

            async def send(body: bytes) -> None:
                response = await client.post(
                    "/records", content=body, headers={"Content-Type": "application/json"}
                )
                if response.status_code != 200:
                    raise RuntimeError(f"minimal endpoint: {response.status_code} {response.text[:500]}")

            def body(start: int) -> dict[str, Any]:
                return {
                    "products": [s.record() for s in specs(NEW_SERIES, count, start, PUSH_SIZE, media_base)]
                }

            started = time.perf_counter()
            latencies = await push_bodies(send, range(0, count, PUSH_SIZE), body, PUSH_CLIENTS)
            seconds = time.perf_counter() - started
    connection = await asyncpg.connect(database_url)
    try:
        staged = await connection.fetchval(f"SELECT count(*) FROM {STAGING_TABLE}")  # noqa: S608 (constant)
        await connection.execute(f"DROP TABLE {STAGING_TABLE}")
    finally:
        await connection.close()
    if staged != count:
        raise RuntimeError(f"the minimal endpoint staged {staged} records, not {count}")
    figures.minimal = ImportFigures(count, seconds, latencies, 0.0, seconds, None, [])


async def set_up_catalog(run: Run, image_dir: Path) -> None:
    """Untimed: one import of the taxes, the category tree and (with media) the media of the products
    as root media records, whose files the workers download from the loopback file server. Then the
    catalog is checked and ``media`` and ``import_records`` are vacuumed and analyzed, so that the clean-up
    of the setup's writes is not left to autovacuum during the timed steps."""
    figures, count = run.figures, run.figures.products
    categories = category_records()
    import_id = await run.api.start("benchmark-setup")
    run.imports.append(import_id)
    # Taxes and categories first, in order (a category's parent before it), then the media.
    await run.api.push(import_id, {"taxes": tax_records()})
    for start in range(0, len(categories), PUSH_SIZE):
        await run.api.push(import_id, {"categories": categories[start : start + PUSH_SIZE]})
    media = 0
    if run.media_base is not None:
        figures.image_bytes = await asyncio.to_thread(write_images, image_dir, count)
        media, media_base = count, run.media_base

        def media_body(start: int) -> dict[str, Any]:
            chunk = specs(NEW_SERIES, count, start, PUSH_SIZE, media_base)
            return {"media": [spec.media_record() for spec in chunk]}

        async def send(content: bytes) -> None:
            await run.api.push(import_id, content)

        await push_bodies(send, range(0, count, PUSH_SIZE), media_body, PUSH_CLIENTS)
    run.sampler.phase = f"{figures.phase}: commit"
    figures.setup_workers = len(run.server.workers)
    await run.api.commit(import_id)
    status, latencies = await run.wait_until_done(import_id)
    run.sampler.phase = f"{figures.phase}: checks"
    totals = status["totals"]
    if totals["failures"] or totals["media"] != media or totals["category"] != len(categories):
        raise RuntimeError(f"the setup import did not end as expected: {str(status)[:2000]}")
    committed, ended = timestamp(status["commitTime"]), timestamp(status["endTime"])
    seconds = (ended - committed).total_seconds()
    figures.setup = ImportFigures(media, 0.0, [], seconds, seconds, None, latencies)
    run.expected.taxes, run.expected.categories, run.expected.media = len(TAXES), len(categories), media
    async with run.engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("VACUUM (ANALYZE) media, import_records"))
    run.media_since = await database_now(run.engine)
    await run.check()


async def run_steps(run: Run, args: argparse.Namespace, image_dir: Path) -> None:
    """The steps after the baseline and the minimal endpoint, in order, filling in ``run.figures``."""
    figures, server, count = run.figures, run.server, run.figures.products
    with_media = run.media_base is not None

    run.begin("setup", f"setup (not timed): taxes, categories{', media' if with_media else ''}")
    await set_up_catalog(run, image_dir)
    if figures.setup and with_media:
        console.log(f"  {figures.setup.per_second:,.0f} media/s downloaded and written")
    if len(server.workers) > 1:
        await asyncio.to_thread(server.stop_worker, server.workers[-1])

    run.begin("new ×1", f"new products, 1 worker: push {count:,} ({PUSH_CLIENTS} clients), commit")
    figures.new_one = await run.push_and_commit("benchmark-new", count, run.product_bodies(NEW_SERIES, count))
    run.expected.add_products(count, prices=2, with_media=with_media)
    await run.check()
    console.log(
        f"  push {figures.new_one.push_per_second:,.0f} records/s, commit {figures.new_one.per_second:,.0f} products/s"
    )

    if not args.skip_reimport:
        run.begin("unchanged", "unchanged re-import, 1 worker")
        before = await database_now(run.engine)
        figures.unchanged = await run.push_and_commit(
            "benchmark-unchanged", count, run.product_bodies(NEW_SERIES, count)
        )
        figures.unchanged.written = await products_written_since(run.engine, before)
        await run.check()
        console.log(
            f"  {figures.unchanged.per_second:,.0f} products/s, {figures.unchanged.written} rewritten"
        )

        run.begin("changed", "changed re-import (name and prices), 1 worker")
        before = await database_now(run.engine)
        figures.changed = await run.push_and_commit(
            "benchmark-changed", count, run.product_bodies(NEW_SERIES, count, revision=1)
        )
        figures.changed.written = await products_written_since(run.engine, before)
        await run.check()
        async with run.engine.connect() as connection:
            revised = await connection.scalar(
                text("SELECT count(*) FROM products WHERE name LIKE '%(revision 1)'")
            )
        if revised != count:
            raise RuntimeError(f"the changed re-import renamed {revised} products, not {count}")
        console.log(f"  {figures.changed.per_second:,.0f} products/s")

    if not args.skip_validation:
        run.begin("validated", f"new products, 1 worker: push {count:,}, validate, commit")
        figures.validated = await run.push_and_commit(
            "benchmark-validated", count, run.product_bodies(VALIDATED_SERIES, count), validate=True
        )
        run.expected.add_products(count, prices=2, with_media=with_media)
        await run.check()
        assert figures.validated.validation_seconds is not None
        console.log(
            f"  validation {figures.validated.validation_seconds:.1f} s, "
            f"commit {figures.validated.commit_seconds:.1f} s"
        )

    if not args.skip_two_workers:
        run.begin("starting a worker", "starting a second worker")
        name = await asyncio.to_thread(server.start_worker)
        run.sampler.mark_ready(name)
        run.begin("new ×2", f"new products, 2 workers: push {count:,} ({PUSH_CLIENTS} clients), commit")
        figures.new_two = await run.push_and_commit(
            "benchmark-new-2", count, run.product_bodies(SECOND_SERIES, count)
        )
        run.expected.add_products(count, prices=2, with_media=with_media)
        await run.check()
        console.log(
            f"  {figures.new_two.per_second:,.0f} products/s, end to end {figures.new_two.end_to_end_seconds:.1f} s"
        )

    if not args.skip_peer:
        peer = args.peer_products or count
        for in_flight, series in PEER_SERIES.items():
            workers = len(server.workers)
            run.begin(
                f"peer {in_flight}",
                f"peer workload, {in_flight} in flight, chunks of {PEER_CHUNK}, {workers} worker(s)",
            )

            def peer_body(start: int, series: int = series) -> dict[str, Any]:
                chunk = specs(series, peer, start, PEER_CHUNK, None)
                return {"products": [spec.peer_record() for spec in chunk]}

            figures.peer[in_flight] = await run.push_and_commit(
                f"benchmark-peer-{in_flight}", peer, peer_body, chunk=PEER_CHUNK, clients=in_flight
            )
            run.expected.add_products(peer, prices=1, with_media=False, one_category=True)
            await run.check()
            console.log(f"  {figures.peer[in_flight].end_to_end_per_second:,.0f} products/s end to end")

    if with_media and not args.skip_media_commit:
        await measure_media_commits(run, image_dir)

    if not args.skip_media_downloads:
        run.begin(
            "P9 downloads", f"media downloads (P9): {MEDIA_DOWNLOADS_FILES} files of 50 KB, in this process"
        )
        figures.downloads = await media_downloads.measure(MEDIA_DOWNLOADS_FILES, MEDIA_DOWNLOADS_CONCURRENCY)
        console.log(f"  {figures.downloads.downloader_per_second:,.0f} downloads/s")


async def measure_media_commits(run: Run, image_dir: Path) -> None:
    """M1: new products with one new, distinct image each, committed with 2 workers and then with 1 (the
    last steps: the second worker is stopped after it). Each commit is preceded by plain aiohttp GETs of
    its images from the same file server, which show what the server and the client allow."""
    figures, server, count = run.figures, run.server, run.figures.products
    assert run.media_base is not None
    media_base, before = run.media_base, await database_now(run.engine)
    for workers, series in MEDIA_COMMIT_SERIES.items():
        while len(server.workers) > workers:
            await asyncio.to_thread(server.stop_worker, server.workers[-1])
        if len(server.workers) < workers:
            run.sampler.mark_ready(await asyncio.to_thread(server.start_worker))
        run.begin(
            f"M1 ×{workers}", f"media commit (M1), {workers} worker(s): {count:,} products with new images"
        )
        await asyncio.to_thread(write_images, image_dir, count, series)
        urls = [f"{media_base}/{image_name(index, series)}" for index in range(count)]
        run.sampler.phase = f"M1 ×{workers}: plain GETs"
        figures.media_gets[workers] = await media_downloads.plain_gets(urls, MEDIA_DOWNLOADS_CONCURRENCY)

        def body(start: int, series: int = series) -> dict[str, Any]:
            chunk = specs(series, count, start, PUSH_SIZE, media_base, media_series=series)
            return {"products": [spec.record() for spec in chunk]}

        figures.media_commit[workers] = await run.push_and_commit(f"benchmark-media-{workers}", count, body)
        run.expected.add_products(count, prices=2, with_media=True)
        run.expected.media += count
        # The media rows of these imports are new: the check that nothing rewrote the setup's media ends.
        run.media_since = None
        await run.check()
        console.log(f"  {figures.media_commit[workers].per_second:,.0f} media/s")
    async with run.engine.connect() as connection:
        written = await connection.scalar(
            text("SELECT count(*) FROM media WHERE updated_at >= :since"), {"since": before}
        )
    if written != count * len(MEDIA_COMMIT_SERIES):
        raise RuntimeError(f"the media commits wrote {written} media rows, not {count} each")


def media_commit_figures(figures: Figures) -> list[media_downloads.MediaCommitFigures]:
    """The media commits with the CPU of the workers and of PostgreSQL during each."""
    found = []
    for workers, imported in sorted(figures.media_commit.items(), reverse=True):
        at = f"M1 ×{workers}: commit"
        cpu = {process: seconds for (phase, process), seconds in figures.cpu.items() if phase == at}
        found.append(
            media_downloads.MediaCommitFigures(
                workers,
                figures.products,
                imported.commit_seconds,
                sum(seconds for process, seconds in cpu.items() if process.startswith("worker")),
                cpu.get("postgres", 0.0),
                figures.media_gets[workers],
            )
        )
    return found


def is_local(database_url: str) -> bool:
    """Whether the PostgreSQL server runs on this machine (loopback or a Unix socket), so that its
    backends' memory can be read from /proc."""
    url = make_url(database_url)
    host = url.host or str(url.query.get("host", ""))
    return host in ("", "localhost", LOOPBACK, "::1") or host.startswith("/")


async def follow_backends(database_url: str, sampler: ProcessSampler) -> None:
    """Tell the sampler, every second, which backends serve the run's database."""
    connection = await asyncpg.connect(database_url)
    try:
        while True:
            rows = await connection.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            sampler.set_backends({row["pid"] for row in rows})
            await asyncio.sleep(1)
    finally:
        await connection.close()


def server_settings(
    args: argparse.Namespace, database_url: str, redis_url: str, data_dir: Path
) -> ServerSettings:
    queue_name = f"catalog-import-bench-{secrets.token_hex(4)}"
    client_id = f"benchmark-{secrets.token_hex(4)}"
    variables = {
        "CATALOG_IMPORT_DATABASE_URL": database_url,
        "CATALOG_IMPORT_REDIS_URL": redis_url,
        "CATALOG_IMPORT_QUEUE_NAME": queue_name,
        "CATALOG_IMPORT_DATA_DIR": str(data_dir),
        "CATALOG_IMPORT_MEDIA_DIR": str(data_dir / "media"),
        # The loopback file server; every other non-public address stays refused.
        "CATALOG_IMPORT_MEDIA_ALLOWED_HOSTS": LOOPBACK,
        "CATALOG_IMPORT_SECRET_KEY": secrets.token_urlsafe(32),
        "CATALOG_IMPORT_TOKEN_TTL_SECONDS": "86400",
        "CATALOG_IMPORT_BOOTSTRAP_CLIENT_ID": client_id,
        "CATALOG_IMPORT_BOOTSTRAP_CLIENT_SECRET": secrets.token_urlsafe(24),
        "CATALOG_IMPORT_COMMIT_BATCH_SIZE": str(args.batch_size),
        # One job per worker process, two jobs per import: two workers share an import, one writes alone.
        "CATALOG_IMPORT_WORKER_MAX_JOBS": "1",
        "CATALOG_IMPORT_COMMIT_JOBS_PER_IMPORT": "2",
        # Counted as always (a Redis call per request), but never reached by the run.
        "CATALOG_IMPORT_RATE_LIMIT": "1000000/minute",
        "CATALOG_IMPORT_LOG_JSON": "true",
    }
    return ServerSettings(variables, queue_name, redis_url)


async def run_benchmark(
    args: argparse.Namespace,
    database_url: str,
    redis_url: str,
    processes: Processes,
    sampler: ProcessSampler,
    work_dir: Path,
) -> Figures:
    """Measure everything; with a time limit, stop where the run is when it is reached and return the
    figures measured until then."""
    with_media = not args.skip_media
    figures = Figures(
        args.products, args.peer_products or args.products, args.batch_size, with_media, args.api_processes
    )
    figures.skipped = [name for name in SKIPPABLE if getattr(args, f"skip_{name.replace('-', '_')}")]
    started = time.perf_counter()
    engine = create_engine(database_url, pool_size=2)
    settings = server_settings(args, database_url, redis_url, work_dir / "server")
    server = Server(processes, settings)
    backends = asyncio.create_task(follow_backends(database_url, sampler)) if is_local(database_url) else None
    imports: list[uuid.UUID] = []
    deadline: asyncio.Timeout | None = None
    try:
        async with asyncio.timeout(args.time_limit) as deadline:
            await measure(figures, args, database_url, engine, server, processes, sampler, work_dir, imports)
    except TimeoutError:
        if deadline is None or not deadline.expired():
            raise
        figures.stopped = f"stopped by the time limit of {args.time_limit:.0f} s during: {figures.phase}"
        console.log(figures.stopped)
    finally:
        if backends is not None:
            backends.cancel()
            with suppress(asyncio.CancelledError):
                await backends
        await engine.dispose()
        sampler.phase = "stopping"
        await asyncio.to_thread(processes.stop_all)
        await forget_queue(redis_url, settings.queue_name, [f"import:{i.hex}:*" for i in imports])
    sampler.phase = "end"
    figures.wall_seconds = time.perf_counter() - started
    figures.memory = memory_figures(sampler)
    figures.cpu, figures.phase_seconds = dict(sampler.cpu), dict(sampler.phases)
    return figures


async def measure(
    figures: Figures,
    args: argparse.Namespace,
    database_url: str,
    engine: AsyncEngine,
    server: Server,
    processes: Processes,
    sampler: ProcessSampler,
    work_dir: Path,
    imports: list[uuid.UUID],
) -> None:
    count = figures.products
    async with engine.connect() as connection:
        figures.server_version = str(await connection.scalar(text("SHOW server_version")))
    image_dir = work_dir / "images"
    image_dir.mkdir()
    with ExitStack() as stack:
        files = stack.enter_context(file_server(image_dir)) if figures.with_media else None
        media_base = files.base_url if files is not None else None
        if files is not None:
            sampler.watch("file server", files.process.pid)
            stack.callback(sampler.release, "file server")
        sample = [ProductSpec(NEW_SERIES, i, media_base).record() for i in range(min(count, 1000))]
        figures.record_bytes = sum(len(orjson.dumps(record)) for record in sample) / len(sample)

        sampler.phase = figures.phase = "A1"
        console.log(f"A1: COPY of the catalog rows of {count:,} products, 1 connection")
        figures.baseline = await measure_baseline(database_url, NEW_SERIES, count, media_base)
        console.log(f"  {figures.baseline.products_per_second:,.0f} products/s")

        if not args.skip_minimal:
            sampler.phase = figures.phase = "minimal endpoint: push"
            console.log(
                f"minimal endpoint: {count:,} records, {PUSH_CLIENTS} clients, {PUSH_SIZE}-record bodies"
            )
            await measure_minimal(figures, processes, database_url, media_base)
            assert figures.minimal is not None
            console.log(f"  {figures.minimal.push_per_second:,.0f} records/s")

        sampler.phase = figures.phase = "starting the server"
        console.log("starting the API process and worker processes")
        base_url = await asyncio.to_thread(server.start_api, figures.api_processes)
        workers = 1 if args.skip_two_workers else 2
        for _ in range(workers):
            sampler.mark_ready(await asyncio.to_thread(server.start_worker))
        client_id = server.settings.variables["CATALOG_IMPORT_BOOTSTRAP_CLIENT_ID"]
        secret = server.settings.variables["CATALOG_IMPORT_BOOTSTRAP_CLIENT_SECRET"]
        async with ApiClient.connect(base_url, client_id, secret) as api:
            run = Run(figures, api, server, sampler, engine, media_base, imports=imports)
            await run_steps(run, args, image_dir)


def is_api(process: str) -> bool:
    """The API process, or one of the API processes under its supervisor (``api 1``, ``api 2``…)."""
    return process == "api" or process.startswith("api ")


def memory_figures(sampler: ProcessSampler) -> MemoryFigures:
    memory = MemoryFigures(peaks=dict(sampler.peaks), ready=dict(sampler.ready))
    pushes = [
        peak
        for (phase, name), peak in sampler.phase_peaks.items()
        if is_api(name) and phase.endswith(": push")
    ]
    memory.api_under_push = max(pushes) if pushes else None
    if sampler.backends.seen:
        memory.backend_largest = sampler.backends.largest_peak
        memory.backend_private_sum = sampler.backends.private_sum_peak
        memory.backends = len(sampler.backends.seen)
    return memory


# -- reporting -----------------------------------------------------------------------------------------

SKIPPABLE = (
    "minimal",
    "reimport",
    "validation",
    "two-workers",
    "peer",
    "media",
    "media-downloads",
    "media-commit",
)


def verdict(value: float | None, target: float, *, at_least: bool, estimated: bool = False) -> str:
    if value is None:
        return "—"
    met = value >= target if at_least else value <= target
    return ("met" if met else "NOT MET") + (" (est.)" if estimated else "")


@dataclass
class Row:
    target: str
    measure: str
    figure: str
    ratio: str
    goal: str
    verdict: str
    notes: str


def import_notes(figures: ImportFigures | None, extra: str = "") -> str:
    if figures is None:
        return "not measured"
    parts = [f"commit {figures.commit_seconds:.1f} s"]
    if figures.prepare_seconds is not None:
        parts.append(f"prepare {figures.prepare_seconds:.1f} s")
    parts.append(f"push {figures.push_seconds:.1f} s")
    if extra:
        parts.append(extra)
    return ", ".join(parts)


def validation_row(figures: Figures) -> Row:
    """V1: a validation (the commit rehearsed and rolled back) against the commit of the same import."""
    validated = figures.validated
    seconds = validated.validation_seconds if validated else None
    ratio = None if validated is None or seconds is None else seconds / validated.commit_seconds

    def cpu(step: str) -> str:
        shares = {
            process: spent for (at, process), spent in figures.cpu.items() if at == f"validated: {step}"
        }
        workers = sum(spent for process, spent in shares.items() if process.startswith("worker"))
        return f"workers {workers:.1f}, postgres {shares.get('postgres', 0.0):.1f}"

    return Row(
        "V1",
        "validation of new products, 1 worker (rehearsed, rolled back)",
        show(seconds, "{:,.1f} s"),
        show(ratio, "{:.2f}× its commit"),
        "",
        "",
        "not measured"
        if validated is None
        else f"commit {validated.commit_seconds:.1f} s; CPU s, validate: {cpu('validate')}; commit: {cpu('commit')}",
    )


def rows(figures: Figures) -> list[Row]:
    """The table: one row per figure, each with its target when it has one."""
    n, base = figures.products, figures.baseline
    table: list[Row] = []
    table.append(
        Row(
            "",
            "A1: COPY, 1 connection, 1000 products/tx",
            show(base.products_per_second if base else None, "{:,.0f} products/s"),
            "1.00× A1",
            "baseline",
            "",
            f"{base.rows:,} rows ({base.rows / base.products:.2f} per product), {base.rows_per_second:,.0f} rows/s, "
            f"{base.seconds:.1f} s"
            if base
            else "not measured",
        )
    )
    minimal = figures.minimal
    table.append(
        Row(
            "",
            f"minimal endpoint: validate + COPY, {PUSH_CLIENTS} clients, "
            + ("1 process" if figures.api_processes == 1 else f"{figures.api_processes} processes"),
            show(minimal.push_per_second if minimal else None, "{:,.0f} records/s"),
            "1.00× min.",
            "baseline",
            "",
            f"p50 {show(minimal.push_ms(50))} ms, p95 {show(minimal.push_ms(95))} ms, {minimal.push_seconds:.1f} s"
            if minimal
            else "not measured",
        )
    )
    push = figures.new_one
    table.append(
        Row(
            "P4",
            f"push, {PUSH_CLIENTS} clients, {PUSH_SIZE}-record bodies",
            show(push.push_per_second if push else None, "{:,.0f} records/s"),
            show(figures.push_to_minimal(), "{:.2f}× min."),
            f"≥ {MINIMAL_RATIO}× min.",
            verdict(figures.push_to_minimal(), MINIMAL_RATIO, at_least=True),
            f"{push.push_seconds:.1f} s, p95 {show(push.push_ms(95))} ms" if push else "not measured",
        )
    )
    table.append(
        Row(
            "P4",
            "push latency p50",
            show(push.push_ms(50) if push else None, "{:,.0f} ms"),
            "",
            f"≤ {PUSH_P50_MS:.0f} ms",
            verdict(push.push_ms(50) if push else None, PUSH_P50_MS, at_least=False),
            "",
        )
    )

    def commit_row(
        code: str, label: str, imported: ImportFigures | None, goal: float, extra: str = ""
    ) -> Row:
        ratio = figures.to_a1(imported)
        return Row(
            code,
            label,
            show(imported.per_second if imported else None, "{:,.0f} products/s"),
            show(ratio, "{:.2f}× A1"),
            f"≥ {goal}× A1",
            verdict(ratio, goal, at_least=True),
            import_notes(imported, extra),
        )

    table.append(commit_row("P1", "commit, new products, 1 worker", figures.new_one, A1_ONE_WORKER))
    shares = sorted((process, cpu) for (at, process), cpu in figures.cpu.items() if at == "new ×2: commit")
    worker_cpu = ", ".join(f"{process} {cpu:.1f}" for process, cpu in shares if process.startswith("worker"))
    table.append(
        commit_row(
            "P2",
            "commit, new products, 2 workers",
            figures.new_two,
            A1_TWO_WORKERS,
            f"CPU s: {worker_cpu}, postgres {dict(shares).get('postgres', 0.0):.1f}" if shares else "",
        )
    )
    changed, unchanged = figures.changed, figures.unchanged
    table.append(
        commit_row(
            "P3",
            "re-import, changed name and prices, 1 worker",
            changed,
            A1_CHANGED,
            f"products rewritten {changed.written:,}" if changed else "",
        )
    )
    table.append(
        commit_row(
            "P3",
            "re-import, unchanged, 1 worker",
            unchanged,
            A1_UNCHANGED,
            f"products rewritten {unchanged.written:,}" if unchanged else "",
        )
    )

    table.append(validation_row(figures))

    two = figures.new_two
    for code, at, limit in (
        ("P5", 100_000, END_TO_END_100K_SECONDS),
        ("P8", 1_000_000, END_TO_END_1M_SECONDS),
    ):
        seconds = None if two is None else two.end_to_end_seconds * at / n
        scaled = n != at
        table.append(
            Row(
                code,
                f"end to end {at:,} products (push + commit), 2 workers",
                show(seconds, "{:,.1f} s") + (" (est.)" if scaled and seconds is not None else ""),
                "",
                f"≤ {limit:.0f} s",
                verdict(seconds, limit, at_least=False, estimated=scaled),
                "not measured"
                if two is None
                else (f"scaled from {two.end_to_end_seconds:.1f} s at N = {n:,}; " if scaled else "")
                + f"{two.end_to_end_per_second:,.0f} products/s end to end",
            )
        )

    for in_flight, quoted in PEER_QUOTED.items():
        peer = figures.peer.get(in_flight)
        rate = peer.end_to_end_per_second if peer else None
        table.append(
            Row(
                "P6",
                f"peer workload, chunks of {PEER_CHUNK}, {in_flight} in flight",
                show(rate, "{:,.0f} products/s"),
                show(None if rate is None else rate / quoted, "{:,.0f}× peer"),
                f"≥ {PEER_FACTOR:.0f}× {quoted:.0f}/s",
                verdict(None if rate is None else rate / quoted, PEER_FACTOR, at_least=True),
                "not measured"
                if peer is None
                else f"{peer.products:,} products, first push to done; push {peer.push_seconds:.1f} s "
                f"(p50 {show(peer.push_ms(50))} ms), commit {peer.commit_seconds:.1f} s; "
                f"the peer's figure is PERFORMANCE.md's, not measured here",
            )
        )

    memory = figures.memory
    api_peak = max((peak for name, peak in memory.peaks.items() if is_api(name)), default=None)
    table.append(
        Row(
            "P7",
            "API process, peak RSS" + (" (the largest)" if figures.api_processes > 1 else ""),
            show(api_peak, "{:,.0f} MB"),
            "",
            f"≤ {API_RSS_MB:.0f} MB",
            verdict(api_peak, API_RSS_MB, at_least=False),
            f"under the pushes {show(memory.api_under_push)} MB",
        )
    )
    growth = memory.worker_growth()
    workers = sorted(name for name in memory.peaks if name.startswith("worker"))
    table.append(
        Row(
            "P7",
            "worker processes, RSS growth (peak − ready)",
            show(growth, "{:,.0f} MB"),
            "",
            f"≤ {WORKER_GROWTH_MB:.0f} MB",
            verdict(growth, WORKER_GROWTH_MB, at_least=False),
            "; ".join(
                f"{name}: ready {show(memory.ready.get(name))} MB, peak {memory.peaks[name]:,.0f} MB"
                for name in workers
            )
            + "; an upper bound of the growth from 10k to 1M products",
        )
    )
    downloads = figures.downloads
    table.append(
        Row(
            "P9",
            f"media downloads, {MEDIA_DOWNLOADS_FILES} files of 50 KB",
            show(downloads.downloader_per_second if downloads else None, "{:,.0f} files/s"),
            show(downloads.ratio if downloads else None, "{:.2f}× GET"),
            f"≥ {DOWNLOADS_RATIO}× GET",
            verdict(downloads.ratio if downloads else None, DOWNLOADS_RATIO, at_least=True),
            f"the Downloader in the harness, concurrency {downloads.concurrency}, "
            f"{downloads.downloader.cpu_ms_per_file:.2f} CPU-ms per file; plain aiohttp GETs "
            f"{downloads.baseline_per_second:,.0f} files/s, {downloads.baseline.cpu_ms_per_file:.2f} CPU-ms"
            if downloads
            else "not measured",
        )
    )

    for commit in media_commit_figures(figures):
        gets = commit.gets
        notes = (
            f"commit {commit.commit_seconds:.1f} s; PostgreSQL {commit.postgres_cpu_ms:.2f} CPU-ms per media; "
            f"plain GETs of the same files {gets.per_second:,.0f} files/s, {gets.cpu_ms_per_file:.2f} CPU-ms"
        )
        targeted = commit.workers == 2
        table.append(
            Row(
                "M1" if targeted else "",
                f"media commit, {commit.media:,} products with a new image each, {commit.workers} worker(s)",
                f"{commit.per_second:,.0f} media/s",
                "",
                f"≥ {MEDIA_PER_SECOND:,.0f}/s" if targeted else "",
                verdict(commit.per_second, MEDIA_PER_SECOND, at_least=True) if targeted else "",
                notes,
            )
        )
        table.append(
            Row(
                "M1" if targeted else "",
                f"worker CPU per media, {commit.workers} worker(s)",
                f"{commit.worker_cpu_ms:.2f} ms",
                "",
                f"≤ {MEDIA_WORKER_CPU_MS} ms" if targeted else "",
                verdict(commit.worker_cpu_ms, MEDIA_WORKER_CPU_MS, at_least=False) if targeted else "",
                f"{commit.worker_cpu_seconds:.1f} CPU-s in the worker processes",
            )
        )

    setup = figures.setup
    table.append(
        Row(
            "",
            "setup (not timed): media downloaded by the workers",
            show(setup.per_second if setup and setup.products else None, "{:,.0f} media/s"),
            "",
            "",
            "",
            "not measured"
            if setup is None or not setup.products
            else f"{setup.products:,} images of {figures.image_bytes:.0f} bytes, {figures.setup_workers} worker(s), "
            f"commit {setup.commit_seconds:.1f} s",
        )
    )
    polls = [latency for imported in all_imports(figures) for latency in imported.status_latencies]
    table.append(
        Row(
            "",
            f"status polls (every {POLL_SECONDS} s while importing)",
            show(None if not polls else (percentile(polls, 50) or 0) * 1000, "{:,.0f} ms p50"),
            "",
            "",
            "",
            f"{len(polls):,} polls, max {max(polls) * 1000:,.0f} ms" if polls else "",
        )
    )
    others = ["harness", "minimal endpoint", "file server"]
    table.append(
        Row(
            "",
            "peak RSS of the other processes",
            show(memory.peaks.get("harness"), "{:,.0f} MB"),
            "",
            "",
            "",
            ", ".join(f"{name} {memory.peaks[name]:,.0f} MB" for name in others if name in memory.peaks),
        )
    )
    table.append(
        Row(
            "",
            "PostgreSQL backends of the run's database",
            show(memory.backend_largest, "{:,.0f} MB"),
            "",
            "",
            "",
            f"largest peak RSS of one backend (shared buffers it touched included); private memory of "
            f"all {memory.backends} at most {memory.backend_private_sum:,.0f} MB at once"
            if memory.backend_largest is not None
            else "not measured (the server is not on this machine)",
        )
    )
    return table


def all_imports(figures: Figures) -> list[ImportFigures]:
    found = [figures.setup, figures.new_one, figures.unchanged, figures.changed, figures.new_two]
    return [imported for imported in [*found, *figures.peer.values()] if imported is not None]


def print_table(figures: Figures, machine_text: str, commit: str) -> None:
    output = Console(width=None if sys.stdout.isatty() else 200)
    media = "1 media each" if figures.with_media else "no media"
    table = Table(
        title=f"Catalog import benchmark: N = {figures.products:,} products ({media}, "
        f"{figures.record_bytes:.0f} bytes of JSON each), commit batch {figures.batch_size}"
        + (f", {figures.api_processes} API processes" if figures.api_processes > 1 else ""),
        caption=f"{machine_text}; PostgreSQL {figures.server_version}; commit {commit}; "
        f"whole run {figures.wall_seconds:.0f} s",
    )
    table.add_column("")
    table.add_column("measure")
    table.add_column("figure", justify="right")
    table.add_column("ratio", justify="right")
    table.add_column("target")
    table.add_column("met?")
    table.add_column("notes", overflow="fold")
    for row in rows(figures):
        style = "red" if row.verdict.startswith("NOT") else None
        table.add_row(
            row.target, row.measure, row.figure, row.ratio, row.goal, row.verdict, row.notes, style=style
        )
    output.print(table)
    output.print(cpu_table(figures))
    if figures.stopped:
        output.print(f"[bold red]{figures.stopped}[/]")
    if figures.skipped:
        output.print(f"skipped: {', '.join(figures.skipped)}")


CPU_GROUPS = ("api", "workers", "postgres", "harness", "other")


def cpu_group(process: str) -> str:
    if process.startswith("worker"):
        return "workers"
    if is_api(process):
        return "api"
    return process if process in CPU_GROUPS else "other"


def cpu_table(figures: Figures) -> Table:
    """CPU seconds per phase and process group, and how many cores were busy on average."""
    table = Table(
        title="CPU seconds by phase (from /proc; postgres: the backends of the run's database)",
        caption="other: the minimal endpoint and the file server",
    )
    table.add_column("phase")
    table.add_column("wall s", justify="right")
    for group in CPU_GROUPS:
        table.add_column(group, justify="right")
    table.add_column("cores busy", justify="right")
    for phase, wall in figures.phase_seconds.items():
        used = dict.fromkeys(CPU_GROUPS, 0.0)
        for (at, process), seconds in figures.cpu.items():
            if at == phase:
                used[cpu_group(process)] += seconds
        if wall < 0.05:
            continue
        busy = sum(used.values()) / wall if wall else None
        table.add_row(
            phase, f"{wall:.1f}", *(f"{used[group]:.1f}" for group in CPU_GROUPS), show(busy, "{:.2f}")
        )
    return table


RESULTS_INTRO = """\
# Benchmark results

One row per run (see README.md). Absolute figures move 10–25 % between runs on shared machines: compare
the ratios to A1, which is measured in the same run.

"""

RESULTS_SECTION = """\
## Real processes over HTTP: `python -m benchmarks`

From the harness: one API process (`serve --no-worker`) and 1, then 2 worker processes (one job each,
two jobs per import), driven over HTTP on 127.0.0.1; taxes, categories and media imported by an untimed
setup import (media downloaded by the workers), so that a timed import of new products writes 6.5
catalog rows per product (the product, 2 prices, 2.5 category links, 1 media link) while A1 copies 7.5
(the same and the media row). A row stopped by `--time-limit` says so in the last column; steps not run
show —.

- **N**: products per import; **batch**: records written per commit transaction
  (`CATALOG_IMPORT_COMMIT_BATCH_SIZE`).
- **A1**: COPY of the catalog rows of N products into copies of the catalog tables with their foreign
  keys, 1 connection, one transaction per 1000 products: products/s.
- **minimal**: the minimal endpoint (FastAPI, pydantic validation, COPY into a staging table, 1 uvicorn
  process) fed the same bodies by the same 4 clients: records/s.
- **push**: the API's push of the first import, 4 concurrent clients, 1000-record bodies: records/s, its
  ratio to the minimal endpoint (P4), and the p50 / p95 latency of one push in ms.
- **new ×1**, **new ×2**: commit to done (the server's `commitTime` → `endTime`) of N new products with 1
  and 2 worker processes: products/s and ratio to A1 (P1, P2).
- **changed**, **unchanged**: re-import of the first import's products with a new name and new prices /
  without any change, 1 worker: products/s and ratio to A1 (P3).
- **e2e ×2 s**: first push to done of the 2-worker import of N products (P5 at N = 100,000, P8 at 1M).
- **peer 1 / 2**: the peer-shaped workload (one price, one category, no media, 100-record bodies, 1 and 2
  in flight, then commit and done): products/s from the first push to done (P6: ≥ 50× 120 and 50× 265).
- **P9 downloads/s**: `media_downloads`' Downloader, 1000 files of 50 KB; **setup media/s**: media
  downloaded and written by the setup import (2 workers), informational.
- **RSS MB**: peak resident memory of the API process / of the largest worker process / of the harness;
  **worker growth**: the largest worker's peak minus its RSS once ready (P7).
- **not met**: the targets this row misses (est.: judged on a figure scaled to N = 100k or 1M).

| date (UTC) | machine | commit | N | batch | A1 products/s | minimal records/s | push records/s | ×minimal | \
push p50 / p95 ms | new ×1 products/s | ×A1 | new ×2 products/s | ×A1 | changed products/s | ×A1 | \
unchanged products/s | ×A1 | e2e ×2 s | peer 1 / 2 products/s | P9 downloads/s | setup media/s | \
RSS MB API / worker / harness | worker growth MB | not met |
|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|
"""


def append_result(figures: Figures, machine_text: str, commit: str) -> None:
    def rate(imported: ImportFigures | None) -> str:
        return show(imported.per_second if imported else None)

    def ratio(imported: ImportFigures | None) -> str:
        return show(figures.to_a1(imported), "{:.2f}")

    push, minimal, memory = figures.new_one, figures.minimal, figures.memory
    peers = [figures.peer.get(k) for k in PEER_QUOTED]
    workers = [peak for name, peak in memory.peaks.items() if name.startswith("worker")]
    missed = sorted(
        {
            row.target + (" (est.)" if "est." in row.verdict else "")
            for row in rows(figures)
            if row.verdict.startswith("NOT")
        }
    )
    last = ", ".join(missed) or "none"
    if figures.api_processes > 1:
        last += f"; {figures.api_processes} API and minimal endpoint processes"
    if figures.skipped:
        last += f"; skipped: {', '.join(figures.skipped)}"
    if figures.stopped:
        last += f"; {figures.stopped}"
    cells = [
        datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        f"{machine_text}, PostgreSQL {figures.server_version}",
        commit,
        f"{figures.products:,}",
        str(figures.batch_size),
        show(figures.baseline.products_per_second if figures.baseline else None),
        show(minimal.push_per_second if minimal else None),
        show(push.push_per_second if push else None),
        show(figures.push_to_minimal(), "{:.2f}"),
        f"{show(push.push_ms(50) if push else None)} / {show(push.push_ms(95) if push else None)}",
        rate(figures.new_one),
        ratio(figures.new_one),
        rate(figures.new_two),
        ratio(figures.new_two),
        rate(figures.changed),
        ratio(figures.changed),
        rate(figures.unchanged),
        ratio(figures.unchanged),
        show(figures.new_two.end_to_end_seconds if figures.new_two else None, "{:.1f}"),
        " / ".join(show(p.end_to_end_per_second if p else None) for p in peers),
        show(figures.downloads.downloader_per_second if figures.downloads else None),
        show(figures.setup.per_second if figures.setup and figures.setup.products else None),
        " / ".join(
            show(value)
            for value in (
                max((peak for name, peak in memory.peaks.items() if is_api(name)), default=None),
                max(workers, default=None),
                memory.peaks.get("harness"),
            )
        ),
        show(memory.worker_growth()),
        last,
    ]
    append_row(RESULTS_FILE, RESULTS_INTRO + RESULTS_SECTION, cells, section=RESULTS_SECTION)


# -- the command ---------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Run the PERFORMANCE.md workload through real server processes over HTTP, against "
        "COPY and a minimal endpoint measured in the same run, and report the targets P1–P9.",
    )
    parser.add_argument("--products", type=int, default=20_000, help="products per import (default 20000)")
    parser.add_argument(
        "--peer-products",
        type=int,
        help="products per import of the peer-shaped workload (default: --products)",
    )
    add_server_options(parser)
    parser.add_argument(
        "--time-limit",
        type=float,
        metavar="SECONDS",
        help="stop the run after this long and report what was measured until then (default: no limit)",
    )
    parser.add_argument(
        "--skip-minimal", action="store_true", help="do not measure the minimal endpoint (P4)"
    )
    parser.add_argument(
        "--skip-reimport", action="store_true", help="no changed and unchanged re-import (P3)"
    )
    parser.add_argument(
        "--skip-validation",
        action="store_true",
        help="no validated import (V1: a validation against its commit)",
    )
    parser.add_argument(
        "--skip-two-workers", action="store_true", help="one worker process only (no P2, P5, P8)"
    )
    parser.add_argument("--skip-peer", action="store_true", help="no peer-shaped workload (P6)")
    parser.add_argument(
        "--api-processes",
        type=int,
        default=1,
        metavar="N",
        help="API processes (serve --processes N) and minimal endpoint processes (default 1)",
    )
    parser.add_argument(
        "--skip-media",
        action="store_true",
        help="products without media (A1 without media rows), no media setup: a quicker, different workload",
    )
    parser.add_argument("--skip-media-downloads", action="store_true", help="no media download figure (P9)")
    parser.add_argument(
        "--skip-media-commit", action="store_true", help="no commit of products with new images (M1)"
    )
    parser.add_argument(
        "--no-append", action="store_true", help="print the table only; append nothing to the results files"
    )
    args = parser.parse_args(argv)
    if (
        args.products < 1
        or args.batch_size < 1
        or (args.peer_products is not None and args.peer_products < 1)
    ):
        parser.error("--products, --peer-products and --batch-size must be positive")
    if not 1 <= args.api_processes <= 64:
        parser.error("--api-processes must be from 1 to 64")
    if args.products >= 1 << 24:
        parser.error("--products must stay below 16,777,216 (the images spell the index in 3 bytes)")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    with benchmark_run(args) as run, ExitStack() as stack:
        work_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ci-bench-run-")))
        sampler = stack.enter_context(ProcessSampler())
        processes = Processes(work_dir, sampler)
        stack.callback(processes.stop_all)
        figures = asyncio.run(
            run_benchmark(args, run.database_url, run.redis_url, processes, sampler, work_dir)
        )
    print_table(figures, run.machine, run.commit)
    if args.no_append:
        return
    append_result(figures, run.machine, run.commit)
    if figures.downloads is not None:
        media_downloads.append_result(figures.downloads, run.machine, run.commit)
    media_downloads.append_commit_results(media_commit_figures(figures), run.machine, run.commit)
    console.print(f"appended to {RESULTS_FILE.relative_to(PROJECT_ROOT)} and {media_downloads.RESULTS.name}")


if __name__ == "__main__":
    main()
