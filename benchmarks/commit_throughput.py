"""Commit throughput benchmark: the PERFORMANCE.md workload pushed over HTTP and written by the committer,
measured against a COPY baseline (A1) taken in the same run on the same PostgreSQL server.

    .venv/bin/python -m benchmarks.commit_throughput [--products N] [--batch-size B]
                                                     [--database-url URL] [--redis-url URL]
                                                     [--time-limit SECONDS]

Without URLs an embedded PostgreSQL and Redis are started in a temporary directory. Either way the
benchmark creates a database of its own on the server, migrates it, and drops it at the end. The media of
the workload are small generated images served by a loopback file server in a separate process; an
untimed setup step imports (downloads) them all before the timed imports, which then name them by URL.
It prints a table and appends one row to ``benchmarks/results.md``."""

import argparse
import asyncio
import io
import os
import platform
import re
import resource
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import orjson
import redis.asyncio as aioredis
from PIL import Image
from rich.console import Console
from rich.table import Table
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from catalog_import.app import create_app
from catalog_import.auth.service import create_integration
from catalog_import.committer.planner import prepare_import
from catalog_import.committer.runner import ImportRunner, RunnerOptions
from catalog_import.config import Settings
from catalog_import.db import async_database_url, create_engine, create_session_factory
from catalog_import.embedded import embedded_postgres, embedded_redis
from catalog_import.logs import configure_logging
from catalog_import.media.services import MediaServices, media_services
from catalog_import.migrations import upgrade

RESULTS_FILE = Path(__file__).resolve().parent / "results.md"
PROJECT_ROOT = Path(__file__).resolve().parent.parent

PUSH_SIZE = 1000
PUSH_CLIENTS = 4
BASELINE_CHUNK = 1000
BASELINE_SCHEMA = "a1_baseline"

console = Console(stderr=True, highlight=False)


# -- the workload --------------------------------------------------------------------------------------

TAXES: tuple[tuple[str, Decimal], ...] = (
    ("Standard rate", Decimal("19")),
    ("Reduced rate", Decimal("7")),
    ("Reduced rate 2", Decimal("5")),
    ("Super reduced rate", Decimal("2.5")),
    ("Zero rate", Decimal("0")),
)
CURRENCIES = ("EUR", "USD")
ROOT_NAMES = ("Home", "Outlet")
GROUPS_PER_ROOT = 12
LEAF_COUNT = 2000

# Product series: the first import creates series 1, the second series 2; the re-import pushes series 1
# again. The baseline copies series 1 into its own schema. The media of both series are imported before.
NEW_SERIES = 1
SECOND_SERIES = 2
SERIES = (NEW_SERIES, SECOND_SERIES)
ID_EPOCH_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def category_tree() -> list[tuple[str, ...]]:
    """The paths of the 2,026 categories (2 roots, 12 groups under each, 2,000 leaves spread over the 24
    groups as 83 or 84), parents before children."""
    roots: list[tuple[str, ...]] = [(root,) for root in ROOT_NAMES]
    groups: list[tuple[str, ...]] = [
        (*root, f"Group {g:02d}") for root in roots for g in range(1, GROUPS_PER_ROOT + 1)
    ]
    per_group, extra = divmod(LEAF_COUNT, len(groups))
    leaves = [
        (*group, f"Leaf {leaf:03d}")
        for index, group in enumerate(groups)
        for leaf in range(1, per_group + (1 if index < extra else 0) + 1)
    ]
    return roots + groups + leaves


CATEGORY_PATHS = category_tree()
LEAF_PATHS = [path for path in CATEGORY_PATHS if len(path) == 3]
assert len(CATEGORY_PATHS) == 2026 and len(LEAF_PATHS) == LEAF_COUNT


def ordered_id(series: int, index: int) -> uuid.UUID:
    """A UUIDv7-shaped id, time-ordered by index within a series and the same in every run, so that a
    re-import names the same products."""
    millis = ID_EPOCH_MS + series * 1_000_000_000 + index
    return uuid.UUID(int=(millis << 80) | (0x7 << 76) | (0b10 << 62) | (series << 32) | index)


def category_paths(index: int) -> list[tuple[str, ...]]:
    """The categories of product ``index`` of any series: two or three distinct leaves (2.5 on average)."""
    count = 2 + index % 2
    return [LEAF_PATHS[(index * 7 + k * 667) % LEAF_COUNT] for k in range(count)]


def image_name(series: int, index: int) -> str:
    return f"{series}-{index:07d}.png"


def image_bytes(series: int, index: int) -> bytes:
    """A 2×1 PNG of about 70 bytes whose pixels spell the series and the index: distinct per product."""
    pixels = bytes([series, index >> 16 & 0xFF, index >> 8 & 0xFF, index & 0xFF, 0, 0])
    buffer = io.BytesIO()
    Image.frombytes("RGB", (2, 1), pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass(frozen=True, slots=True)
class ProductSpec:
    """Everything the workload says about one product; both the HTTP record and the baseline rows are
    built from it, so the two write the same catalog. ``media_base`` is the URL of the directory the
    loopback file server serves the images from."""

    series: int
    index: int
    media_base: str

    @property
    def id(self) -> uuid.UUID:
        return ordered_id(self.series, self.index)

    @property
    def number(self) -> str:
        return f"BENCH-{self.series}-{self.index:07d}"

    @property
    def name(self) -> str:
        return f"Product {self.series}-{self.index}"

    @property
    def tax_name(self) -> str:
        return TAXES[self.index % len(TAXES)][0]

    @property
    def stock(self) -> int:
        return self.index % 500

    def prices(self) -> list[tuple[str, Decimal, Decimal]]:
        """(currency, gross, net) in EUR and USD."""
        net = 1000 + self.index % 9000
        return [
            ("EUR", Decimal(net * 119 // 100) / 100, Decimal(net) / 100),
            ("USD", Decimal(net * 129 // 100) / 100, Decimal(net * 108 // 100) / 100),
        ]

    def category_paths(self) -> list[tuple[str, ...]]:
        return category_paths(self.index)

    @property
    def media_url(self) -> str:
        return f"{self.media_base}/{self.media_filename}"

    @property
    def media_title(self) -> str:
        return f"Image {self.series}-{self.index}"

    @property
    def media_filename(self) -> str:
        return image_name(self.series, self.index)

    def media_record(self) -> dict[str, Any]:
        """The media as the setup imports it (a root record), and as a product names it."""
        return {
            "url": self.media_url,
            "title": self.media_title,
            "alt": "alt",
            "filename": self.media_filename,
        }

    def record(self) -> dict[str, Any]:
        """The record in the shape of the design's Appendix A."""
        return {
            "id": self.id.hex,
            "name": self.name,
            "productNumber": self.number,
            "tax": {"name": self.tax_name},
            "prices": [
                {"currency": currency, "gross": float(gross), "net": float(net), "linked": False}
                for currency, gross, net in self.prices()
            ],
            "stock": str(self.stock),
            "categories": [{"path": list(path)} for path in self.category_paths()],
            "media": [self.media_record()],
        }


def specs(series: int, count: int, start: int, media_base: str) -> list[ProductSpec]:
    """The products of ``series`` from ``start``, one push body's worth."""
    return [ProductSpec(series, index, media_base) for index in range(start, min(start + PUSH_SIZE, count))]


def category_links(count: int) -> int:
    """Product-category links of ``count`` products of a series."""
    return sum(len(category_paths(index)) for index in range(count))


def catalog_rows_per_product(count: int, *, with_media: bool) -> float:
    """Rows one product adds to the catalog: the product, 2 prices, its category links and its link to
    its media, and, ``with_media``, the media row itself (which the imports find already there)."""
    return (count * (1 + 2 + 1 + (1 if with_media else 0)) + category_links(count)) / count


# -- figures -------------------------------------------------------------------------------------------


@dataclass
class CommitFigures:
    """One commit: ``records`` roots (products, or the setup's media) from the commit request to done."""

    runners: int
    records: int
    prepare_seconds: float
    write_seconds: float

    @property
    def seconds(self) -> float:
        return self.prepare_seconds + self.write_seconds

    @property
    def per_second(self) -> float:
        return self.records / self.seconds


class Throughput:
    """Figures every benchmark of a push and a commit derives the same way, from its ``products``,
    ``baseline_seconds``, ``push_latencies`` and ``peak_rss_mb``."""

    products: int
    baseline_seconds: float
    push_latencies: list[float]
    peak_rss_mb: dict[str, float]

    @property
    def baseline_products_per_second(self) -> float | None:
        return self.products / self.baseline_seconds if self.baseline_seconds else None

    def push_percentile(self, percent: int) -> float | None:
        """Push latency in milliseconds at ``percent``."""
        ordered = sorted(self.push_latencies)
        if len(ordered) < 2:
            return ordered[0] * 1000 if ordered else None
        return statistics.quantiles(ordered, n=100, method="inclusive")[percent - 1] * 1000

    def ratio(self, commit: CommitFigures | None) -> float | None:
        baseline = self.baseline_products_per_second
        return None if commit is None or baseline is None else commit.per_second / baseline

    def sample_rss(self, phase: str) -> None:
        # ru_maxrss is the peak so far, in KiB on Linux.
        self.peak_rss_mb[phase] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Figures(Throughput):
    """What one run measured; a step that did not run (the time limit) leaves its figures empty."""

    products: int
    batch_size: int
    record_bytes: float = 0.0
    baseline_rows_per_product: float = 0.0
    commit_rows_per_product: float = 0.0
    baseline_seconds: float = 0.0
    baseline_rows: int = 0
    push_seconds: float = 0.0
    push_latencies: list[float] = field(default_factory=list)
    # The untimed setup: the media of both series imported (downloaded) by one runner.
    media_setup: CommitFigures | None = None
    media_setup_seconds: float = 0.0
    image_bytes: float = 0.0
    new_one_runner: CommitFigures | None = None
    new_two_runners: CommitFigures | None = None
    unchanged_reimport: CommitFigures | None = None
    rewritten_on_reimport: int | None = None
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    server_version: str = ""
    wall_seconds: float = 0.0
    phase: str = "setup"
    stopped: str | None = None

    def begin(self, phase: str) -> None:
        self.phase = phase
        console.log(phase)

    @property
    def push_records_per_second(self) -> float | None:
        return self.products / self.push_seconds if self.push_seconds else None


def show(value: float | None, pattern: str = "{:,.0f}") -> str:
    """A figure for the table, or a dash for one not measured."""
    return "—" if value is None else pattern.format(value)


# -- servers and the scratch database ------------------------------------------------------------------


@contextmanager
def servers(database_url: str | None, redis_url: str | None) -> Iterator[tuple[str, str]]:
    """The PostgreSQL server and Redis to use: the given URLs, or embedded ones in a temporary directory."""
    with ExitStack() as stack:
        if database_url is None or redis_url is None:
            # Short paths: PostgreSQL's socket path must stay under 108 bytes.
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ci-bench-")))
            if database_url is None:
                database_url = stack.enter_context(embedded_postgres(root / "pg"))
            if redis_url is None:
                redis_url = stack.enter_context(embedded_redis(root / "redis"))
        yield database_url, redis_url


@dataclass(frozen=True)
class MediaFiles:
    """Where the images are written (``images``, served as ``base_url``) and where the server under test
    keeps the files it downloads (``store``)."""

    images: Path
    base_url: str
    store: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the file server exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("the file server did not start")


@contextmanager
def media_files() -> Iterator[MediaFiles]:
    """A temporary directory served on 127.0.0.1 by ``python -m http.server`` in a process of its own
    (stopped at the end), and a media store next to it. The server reads files when they are requested,
    so the images can be written after it started."""
    with tempfile.TemporaryDirectory(prefix="ci-bench-media-") as temporary:
        root = Path(temporary)
        (root / "served" / "p").mkdir(parents=True)
        port = free_port()
        command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
        process = subprocess.Popen(
            [*command, "--directory", str(root / "served")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(port, process)
            yield MediaFiles(root / "served" / "p", f"http://127.0.0.1:{port}/p", root / "store")
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def write_images(directory: Path, count: int) -> float:
    """One image per product of each series; returns their average size in bytes."""
    total = 0
    for series in SERIES:
        for index in range(count):
            data = image_bytes(series, index)
            (directory / image_name(series, index)).write_bytes(data)
            total += len(data)
    return total / (count * len(SERIES))


@contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    """A database of the benchmark's own on ``server_url``, built by the migrations and dropped at the end."""
    name = f"catalog_import_bench_{secrets.token_hex(4)}"
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)

    async def admin(statement: str) -> None:
        engine = create_async_engine(async_database_url(server_url), isolation_level="AUTOCOMMIT")
        async with engine.connect() as connection:
            await connection.execute(text(statement))
        await engine.dispose()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        upgrade(url)
        yield url
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# -- A1: COPY of the catalog rows ----------------------------------------------------------------------

BASELINE_TABLES = (
    "taxes",
    "currencies",
    "categories",
    "media_folders",
    "media",
    "products",
    "product_prices",
    "product_categories",
    "product_media",
)

CATALOG_FOREIGN_KEYS = """
SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
FROM pg_constraint c
WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
  AND c.conrelid::regclass::text = ANY($1::text[])
ORDER BY 1, 2
"""


async def copy_catalog_tables(connection: asyncpg.Connection, schema: str, tables: Sequence[str]) -> None:
    """A new ``schema`` with empty copies of the catalog ``tables``: columns, defaults, indexes,
    constraints and the same foreign keys, pointing into the copy (each must point to one of ``tables``)."""
    await connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")
    for table in tables:
        await connection.execute(f"CREATE TABLE {schema}.{table} (LIKE public.{table} INCLUDING ALL)")
    for table, name, definition in await connection.fetch(CATALOG_FOREIGN_KEYS, list(tables)):
        target = re.fullmatch(r"FOREIGN KEY \(.+\) REFERENCES (\w+)\(.+", definition)
        assert target is not None and target.group(1) in tables, definition
        copied = definition.replace(
            f"REFERENCES {target.group(1)}(", f"REFERENCES {schema}.{target.group(1)}("
        )
        await connection.execute(f"ALTER TABLE {schema}.{table} ADD CONSTRAINT {name} {copied}")


async def create_baseline_schema(connection: asyncpg.Connection) -> dict[str, dict[Any, uuid.UUID]]:
    """A schema with copies of the catalog tables (columns, defaults, indexes, constraints and the same
    foreign keys, pointing into the copy), holding the same taxes, currencies and category tree. Returns
    the ids of taxes (by name), currencies (by ISO code) and categories (by path)."""
    schema = BASELINE_SCHEMA
    await copy_catalog_tables(connection, schema, BASELINE_TABLES)
    await connection.execute(
        f"INSERT INTO {schema}.currencies SELECT * FROM public.currencies"  # noqa: S608 (constant schema)
    )
    currencies = {
        code: currency_id
        for currency_id, code in await connection.fetch(
            f"SELECT id, iso_code FROM {schema}.currencies WHERE iso_code = ANY($1::text[])",  # noqa: S608
            list(CURRENCIES),
        )
    }
    taxes = {name: ordered_id(90, index) for index, (name, _rate) in enumerate(TAXES)}
    await connection.copy_records_to_table(
        "taxes",
        schema_name=schema,
        columns=["id", "name", "tax_rate"],
        records=[(taxes[name], name, rate) for name, rate in TAXES],
    )
    categories = {path: ordered_id(91, index) for index, path in enumerate(CATEGORY_PATHS)}
    await connection.copy_records_to_table(
        "categories",
        schema_name=schema,
        columns=["id", "parent_id", "name", "path", "path_key", "active"],
        records=[
            (categories[path], categories.get(path[:-1]), path[-1], list(path), "\x1f".join(path), True)
            for path in CATEGORY_PATHS
        ],
    )
    return {"tax": taxes, "currency": currencies, "category": categories}


def baseline_rows(
    chunk: Sequence[ProductSpec], ids: dict[str, dict[Any, uuid.UUID]]
) -> dict[str, list[tuple[Any, ...]]]:
    """The catalog rows of ``chunk``, per table, in the order the foreign keys need."""
    rows: dict[str, list[tuple[Any, ...]]] = {
        "media": [],
        "products": [],
        "product_prices": [],
        "product_categories": [],
        "product_media": [],
    }
    for spec in chunk:
        media_id = ordered_id(100 + spec.series, spec.index)
        rows["media"].append((media_id, spec.media_url, spec.media_title, "alt", spec.media_filename))
        rows["products"].append(
            (spec.id, spec.number, spec.name, True, spec.stock, ids["tax"][spec.tax_name])
        )
        for currency, gross, net in spec.prices():
            rows["product_prices"].append((spec.id, ids["currency"][currency], gross, net, False))
        for path in spec.category_paths():
            rows["product_categories"].append((spec.id, ids["category"][path]))
        rows["product_media"].append((spec.id, media_id, 0))
    return rows


BASELINE_COLUMNS = {
    "media": ["id", "source_url", "title", "alt", "filename"],
    "products": ["id", "product_number", "name", "active", "stock", "tax_id"],
    "product_prices": ["product_id", "currency_id", "gross", "net", "linked"],
    "product_categories": ["product_id", "category_id"],
    "product_media": ["product_id", "media_id", "position"],
}


async def measure_baseline(database_url: str, figures: Figures, media_base: str) -> None:
    """A1: COPY the catalog rows of the N products into the copied tables, one transaction per 1000
    products, on one connection. Only the transactions are timed, not building the rows."""
    connection = await asyncpg.connect(database_url)
    try:
        ids = await create_baseline_schema(connection)
        elapsed = 0.0
        for start in range(0, figures.products, BASELINE_CHUNK):
            rows = baseline_rows(specs(NEW_SERIES, figures.products, start, media_base), ids)
            started = time.perf_counter()
            async with connection.transaction():
                for table, records in rows.items():
                    await connection.copy_records_to_table(
                        table, schema_name=BASELINE_SCHEMA, columns=BASELINE_COLUMNS[table], records=records
                    )
            elapsed += time.perf_counter() - started
            figures.baseline_rows += sum(len(records) for records in rows.values())
        figures.baseline_seconds = elapsed
        await connection.execute(f"DROP SCHEMA {BASELINE_SCHEMA} CASCADE")
    finally:
        await connection.close()


# -- the API, in process -------------------------------------------------------------------------------


class ApiClient:
    """One signed-in integration talking to the app over httpx's ASGI transport."""

    def __init__(self, client: httpx.AsyncClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    @classmethod
    @asynccontextmanager
    async def serving(cls, settings: Settings) -> AsyncIterator["ApiClient"]:
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            session_factory = app.state.session_factory
            async with session_factory() as session, session.begin():
                created = await create_integration(session, "benchmark")
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=600) as client:
                response = await client.post(
                    "/api/oauth/token",
                    json={
                        "grant_type": "client_credentials",
                        "client_id": created.client_id,
                        "client_secret": created.client_secret,
                    },
                )
                response.raise_for_status()
                yield cls(client, response.json()["access_token"])

    async def call(self, method: str, path: str, body: bytes | None = None, expect: int = 200) -> Any:
        response = await self.client.request(method, path, content=body, headers=self.headers)
        if response.status_code != expect:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:500]}")
        return orjson.loads(response.content) if response.content else None

    async def start(self, name: str) -> uuid.UUID:
        answer = await self.call("POST", "/api/import/catalog/start", orjson.dumps({"name": name}))
        return uuid.UUID(answer["id"])

    async def push(self, import_id: uuid.UUID, body: dict[str, Any]) -> None:
        answer = await self.call("POST", f"/api/import/{import_id.hex}/record", orjson.dumps(body))
        if answer["containsErrors"]:
            problems = [r["errors"] for r in answer["records"] if r["errors"]]
            raise RuntimeError(f"push refused records: {problems[:3]}")

    async def commit(self, import_id: uuid.UUID) -> None:
        await self.call("POST", f"/api/import/{import_id.hex}/commit", expect=204)

    async def status(self, import_id: uuid.UUID) -> dict[str, Any]:
        answer: dict[str, Any] = await self.call("GET", f"/api/import/{import_id.hex}/status")
        return answer


async def push_taxes_and_categories(api: ApiClient, import_id: uuid.UUID) -> None:
    """The 5 taxes and the category tree, parents first, before any product (not timed)."""
    await api.push(import_id, {"taxes": [{"name": name, "taxRate": float(rate)} for name, rate in TAXES]})
    records: list[dict[str, Any]] = [
        {"name": path[-1], "parent": list(path[:-1])} if len(path) > 1 else {"name": path[0]}
        for path in CATEGORY_PATHS
    ]
    for start in range(0, len(records), PUSH_SIZE):
        await api.push(import_id, {"categories": records[start : start + PUSH_SIZE]})


async def push_products(
    api: ApiClient, import_id: uuid.UUID, series: int, count: int, media_base: str
) -> list[float]:
    """Push ``count`` products in 1000-record bodies from 4 concurrent clients; the latency of each push."""
    return await push_bodies(
        api,
        import_id,
        count,
        lambda start: {"products": [spec.record() for spec in specs(series, count, start, media_base)]},
    )


async def push_media(api: ApiClient, import_id: uuid.UUID, count: int, media_base: str) -> None:
    """Push the media of ``count`` products of each series as root media records, 1000 per body."""
    for series in SERIES:

        def body(start: int, series: int = series) -> dict[str, Any]:
            return {"media": [spec.media_record() for spec in specs(series, count, start, media_base)]}

        await push_bodies(api, import_id, count, body)


async def push_bodies(
    api: ApiClient, import_id: uuid.UUID, count: int, body_from: Callable[[int], dict[str, Any]]
) -> list[float]:
    """Push ``count`` records in 1000-record bodies (``body_from(start)``) from 4 concurrent clients; the
    latency of each push. Bodies are built just before they are sent, so memory stays flat."""
    starts = iter(range(0, count, PUSH_SIZE))
    latencies: list[float] = []

    async def client() -> None:
        for start in starts:
            body = orjson.dumps(body_from(start))
            started = time.perf_counter()
            answer = await api.call("POST", f"/api/import/{import_id.hex}/record", body)
            latencies.append(time.perf_counter() - started)
            if answer["containsErrors"]:
                problems = [r["errors"] for r in answer["records"] if r["errors"]]
                raise RuntimeError(f"push refused records: {problems[:3]}")

    await asyncio.gather(*(client() for _ in range(PUSH_CLIENTS)))
    return latencies


async def commit_and_write(
    api: ApiClient,
    import_id: uuid.UUID,
    settings: Settings,
    *,
    runners: int,
    entity: str = "product",
    count: int,
) -> CommitFigures:
    """Commit over HTTP, then write the import with ``runners`` ImportRunners, each on an engine and with
    media services of its own (as separate worker processes would have; the services are built before
    the clock starts, as a worker builds them when it starts). Preparation (levels, dependencies) is
    timed on its own; the runners then find the import prepared. The figure covers commit to done, of
    ``count`` roots of ``entity``."""
    assert settings.database_url is not None
    engines = [create_engine(settings.database_url, pool_size=2) for _ in range(runners)]
    services: list[MediaServices] = []
    try:
        factories = [create_session_factory(engine) for engine in engines]
        services.extend(media_services(settings) for _ in range(runners))
        started = time.perf_counter()
        await api.commit(import_id)
        async with factories[0]() as session, session.begin():
            if not await prepare_import(session, import_id):
                raise RuntimeError("the committed import is not importing")
        prepared = time.perf_counter()
        options = RunnerOptions(batch_size=settings.commit_batch_size)
        finished = await asyncio.gather(
            *(
                ImportRunner(factory, import_id, options, media).run()
                for factory, media in zip(factories, services, strict=True)
            )
        )
        done = time.perf_counter()
    finally:
        for media in services:
            await media.aclose()
        for engine in engines:
            await engine.dispose()
    status = await api.status(import_id)
    totals = status["totals"]
    if (
        sum(finished) != 1
        or status["status"] != "done"
        or totals["failures"]
        or status["failures"]
        or totals[entity] != count
    ):
        raise RuntimeError(f"the import did not end as expected: {str(status)[:2000]}")
    return CommitFigures(runners, count, prepared - started, done - prepared)


CATALOG_TABLES = (
    "taxes",
    "categories",
    "products",
    "media",
    "product_prices",
    "product_media",
    "product_categories",
)


async def check_catalog(
    engine: AsyncEngine, products: int, links: int, media: int, media_since: datetime
) -> None:
    """The catalog holds what the workload describes: 2026 categories and 5 taxes once products were
    imported, the rows of the products committed so far, and the ``media`` imported by the setup, each
    with a file of its own and none of them written again after ``media_since``."""
    async with engine.connect() as connection:
        counts = {
            table: await connection.scalar(text(f"SELECT count(*) FROM {table}"))  # noqa: S608 (constant names)
            for table in CATALOG_TABLES
        }
        counts["media files"] = await connection.scalar(text("SELECT count(DISTINCT sha256) FROM media"))
        counts["media written since the setup"] = await connection.scalar(
            text("SELECT count(*) FROM media WHERE updated_at >= :since"), {"since": media_since}
        )
    expected = {
        "taxes": len(TAXES) if products else 0,
        "categories": len(CATEGORY_PATHS) if products else 0,
        "products": products,
        "media": media,
        "product_prices": 2 * products,
        "product_media": products,
        "product_categories": links,
        "media files": media,
        "media written since the setup": 0,
    }
    if counts != expected:
        raise RuntimeError(f"unexpected catalog contents: {counts} != {expected}")


async def rewritten_since(engine: AsyncEngine, since: datetime) -> int:
    """Products and media whose row was updated after ``since``."""
    async with engine.connect() as connection:
        count = await connection.scalar(
            text(
                "SELECT (SELECT count(*) FROM products WHERE updated_at >= :since)"
                " + (SELECT count(*) FROM media WHERE updated_at >= :since)"
            ),
            {"since": since},
        )
    return int(count or 0)


async def run_benchmark(
    database_url: str,
    redis_url: str,
    files: MediaFiles,
    products: int,
    batch_size: int,
    time_limit: float | None,
) -> Figures:
    """Measure everything; with a ``time_limit`` (seconds), stop where the run is when it is reached and
    return the figures measured until then. The untimed media setup does not count against the limit."""
    figures = Figures(products=products, batch_size=batch_size)
    started = time.perf_counter()
    sample = [ProductSpec(NEW_SERIES, index, files.base_url).record() for index in range(min(products, 1000))]
    figures.record_bytes = sum(len(orjson.dumps(record)) for record in sample) / len(sample)
    figures.baseline_rows_per_product = catalog_rows_per_product(products, with_media=True)
    figures.commit_rows_per_product = catalog_rows_per_product(products, with_media=False)
    figures.sample_rss("setup")

    engine = create_engine(database_url, pool_size=2)
    queue_name = f"catalog-import-bench-{secrets.token_hex(4)}"
    settings = Settings(
        database_url=database_url,
        redis_url=redis_url,
        secret_key="benchmark-signing-key-" + secrets.token_hex(16),
        token_ttl_seconds=86_400,
        queue_name=queue_name,
        commit_batch_size=batch_size,
        media_dir=files.store,
        # The loopback file server; every other non-public address stays refused.
        media_allowed_hosts=["127.0.0.1"],
    )
    imports: list[uuid.UUID] = []
    deadline: asyncio.Timeout | None = None
    try:
        async with asyncio.timeout(time_limit) as deadline:
            await run_steps(figures, engine, settings, files, imports, deadline)
    except TimeoutError:
        if deadline is None or not deadline.expired():
            raise
        limit = f"the time limit of {time_limit:.0f} s (media setup not counted)"
        figures.stopped = f"stopped by {limit} during: {figures.phase}"
        console.log(figures.stopped)
    finally:
        await engine.dispose()
        await forget_queued_jobs(redis_url, queue_name, imports)
    figures.wall_seconds = time.perf_counter() - started
    return figures


async def run_steps(
    figures: Figures,
    engine: AsyncEngine,
    settings: Settings,
    files: MediaFiles,
    imports: list[uuid.UUID],
    deadline: asyncio.Timeout,
) -> None:
    """The steps of the benchmark, in order, filling in ``figures``."""
    assert settings.database_url is not None
    database_url, products, media_base = settings.database_url, figures.products, files.base_url
    async with engine.connect() as connection:
        figures.server_version = str(await connection.scalar(text("SHOW server_version")))

    figures.begin(f"A1: COPY of the catalog rows of {products:,} products")
    await measure_baseline(database_url, figures, media_base)
    figures.sample_rss("baseline")
    console.log(f"  {figures.baseline_products_per_second:,.0f} products/s")

    async with ApiClient.serving(settings) as api:
        # The clock of the time limit stops while the media are set up.
        loop = asyncio.get_running_loop()
        limit, paused = deadline.when(), loop.time()
        deadline.reschedule(None)
        media_since = await set_up_media(figures, engine, api, settings, files, imports)
        figures.media_setup_seconds = loop.time() - paused
        if limit is not None:
            deadline.reschedule(limit + figures.media_setup_seconds)
        figures.sample_rss("media setup")
        media = len(SERIES) * products

        figures.begin(f"push: {products:,} products, {PUSH_CLIENTS} clients, {PUSH_SIZE}-record bodies")
        first = await api.start("benchmark-new-products")
        imports.append(first)
        await push_taxes_and_categories(api, first)
        push_started = time.perf_counter()
        figures.push_latencies = await push_products(api, first, NEW_SERIES, products, media_base)
        figures.push_seconds = time.perf_counter() - push_started
        figures.sample_rss("push")
        console.log(f"  {figures.push_records_per_second:,.0f} records/s")

        figures.begin("commit: new products, 1 runner")
        figures.new_one_runner = await commit_and_write(api, first, settings, runners=1, count=products)
        figures.sample_rss("commit new, 1 runner")
        await check_catalog(engine, products, category_links(products), media, media_since)
        console.log(f"  {figures.new_one_runner.per_second:,.0f} products/s")

        figures.begin("push of more new products")
        second = await api.start("benchmark-more-new-products")
        imports.append(second)
        await push_products(api, second, SECOND_SERIES, products, media_base)
        figures.begin("commit: new products, 2 runners")
        figures.new_two_runners = await commit_and_write(api, second, settings, runners=2, count=products)
        figures.sample_rss("commit new, 2 runners")
        links = len(SERIES) * category_links(products)
        await check_catalog(engine, 2 * products, links, media, media_since)
        console.log(f"  {figures.new_two_runners.per_second:,.0f} products/s")

        figures.begin("push of the unchanged products")
        third = await api.start("benchmark-unchanged-reimport")
        imports.append(third)
        await push_products(api, third, NEW_SERIES, products, media_base)
        async with engine.connect() as connection:
            before = await connection.scalar(text("SELECT clock_timestamp()"))
        figures.begin("commit: unchanged re-import, 1 runner")
        figures.unchanged_reimport = await commit_and_write(api, third, settings, runners=1, count=products)
        figures.sample_rss("unchanged re-import")
        figures.rewritten_on_reimport = await rewritten_since(engine, before)
        await check_catalog(engine, 2 * products, links, media, media_since)
        console.log(f"  {figures.unchanged_reimport.per_second:,.0f} products/s")


async def set_up_media(
    figures: Figures,
    engine: AsyncEngine,
    api: ApiClient,
    settings: Settings,
    files: MediaFiles,
    imports: list[uuid.UUID],
) -> datetime:
    """Untimed: write one image per product of each series, import them all as root media records (one
    runner with media services downloads every file from the loopback server), check that each media
    has its own file, and vacuum what the setup wrote. Returns the database time it ended at."""
    products = figures.products
    media = len(SERIES) * products
    figures.begin(f"media setup: {media:,} images, imported as root media records (not timed)")
    figures.image_bytes = await asyncio.to_thread(write_images, files.images, products)
    setup = await api.start("benchmark-media")
    imports.append(setup)
    await push_media(api, setup, products, files.base_url)
    figures.media_setup = await commit_and_write(api, setup, settings, runners=1, entity="media", count=media)
    console.log(f"  {figures.media_setup.per_second:,.0f} downloads/s")
    # The media were imported before the re-syncs that follow; their clean-up is not theirs to pay for.
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("VACUUM (ANALYZE) media, import_records"))
        ended: datetime = await autocommit.scalar(text("SELECT clock_timestamp()"))
    await check_catalog(engine, 0, 0, media, ended)
    return ended


async def forget_queued_jobs(redis_url: str, queue_name: str, imports: Sequence[uuid.UUID]) -> None:
    """Remove the jobs the commits queued (no worker consumes the benchmark's queue)."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        keys: list[bytes | str] = [queue_name]
        for import_id in imports:
            keys.extend([key async for key in client.scan_iter(match=f"arq:job:import:{import_id.hex}:*")])
        await client.delete(*keys)
    finally:
        await client.aclose()


# -- reporting -----------------------------------------------------------------------------------------


def machine() -> str:
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        found = re.search(r"^MemTotal:\s+(\d+) kB", meminfo.read_text(), re.MULTILINE)
        if found:
            memory = f", {int(found.group(1)) / 1024**2:.1f} GiB"
    return f"{platform.platform()}, {os.cpu_count()} CPUs{memory}"


def git_commit() -> str:
    """The commit the server code comes from, with ``+changes`` when the package, the migrations or
    ``pyproject.toml`` differ from it (read-only git commands)."""
    git = shutil.which("git")
    if git is None:
        return "unknown"

    def output(*args: str) -> str | None:
        result = subprocess.run(
            [git, "--no-optional-locks", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
        )
        return result.stdout.strip() if result.returncode == 0 else None

    head = output("rev-parse", "--short", "HEAD")
    if not head:
        return "unknown"
    changes = output("status", "--porcelain", "--", "catalog_import", "alembic", "pyproject.toml")
    return head + ("+changes" if changes else "")


def commit_row(label: str, commit: CommitFigures | None, figures: Figures) -> tuple[str, str, str, str]:
    if commit is None:
        return label, "—", "—", "not measured"
    return (
        label,
        f"{commit.per_second:,.0f} products/s",
        show(figures.ratio(commit), "{:.2f}×"),
        f"{commit.seconds:.1f} s: prepare {commit.prepare_seconds:.1f} s, write {commit.write_seconds:.1f} s",
    )


def print_table(figures: Figures, machine_text: str, commit: str) -> None:
    n = figures.products
    table = Table(
        title=f"Commit throughput, N = {n:,} products, commit batch {figures.batch_size}",
        caption=f"{machine_text}; PostgreSQL {figures.server_version}; commit {commit}",
    )
    table.add_column("measure")
    table.add_column("figure", justify="right")
    table.add_column("× A1", justify="right")
    table.add_column("notes")
    baseline_rows = figures.baseline_rows / figures.baseline_seconds if figures.baseline_seconds else None
    table.add_row(
        "A1: COPY, 1 connection, 1000 products/tx",
        show(figures.baseline_products_per_second, "{:,.0f} products/s"),
        "1.00×",
        f"{show(baseline_rows)} rows/s, {figures.baseline_seconds:.1f} s",
    )
    setup = figures.media_setup
    table.add_row(
        "media setup (not timed), 1 runner",
        show(setup.per_second if setup else None, "{:,.0f} downloads/s"),
        "",
        "not measured"
        if setup is None
        else f"{setup.records:,} images of {figures.image_bytes:.0f} bytes from a loopback file server; "
        f"commit {setup.seconds:.1f} s (prepare {setup.prepare_seconds:.1f} s), "
        f"whole setup {figures.media_setup_seconds:.0f} s",
    )
    table.add_row(
        f"push, {PUSH_CLIENTS} clients, {PUSH_SIZE}-record bodies",
        show(figures.push_records_per_second, "{:,.0f} records/s"),
        "",
        f"p50 {show(figures.push_percentile(50))} ms, p95 {show(figures.push_percentile(95))} ms, "
        f"{figures.push_seconds:.1f} s",
    )
    table.add_row(*commit_row("commit, new products, 1 runner", figures.new_one_runner, figures))
    table.add_row(*commit_row("commit, new products, 2 runners", figures.new_two_runners, figures))
    label, rate, ratio, notes = commit_row(
        "commit, unchanged re-import, 1 runner", figures.unchanged_reimport, figures
    )
    if figures.rewritten_on_reimport is not None:
        notes += f"; rows rewritten: {figures.rewritten_on_reimport}"
    table.add_row(label, rate, ratio, notes)
    peaks = ", ".join(f"{phase} {mb:.0f}" for phase, mb in figures.peak_rss_mb.items())
    table.add_row("peak RSS of this process", f"{max(figures.peak_rss_mb.values()):.0f} MB", "", peaks)
    Console().print(table)
    if figures.stopped:
        console.print(f"[bold red]{figures.stopped}[/]")
    console.print(
        f"workload: {figures.record_bytes:.0f} bytes per record; catalog rows per product: A1 copies "
        f"{figures.baseline_rows_per_product:.2f}, a commit of new products writes "
        f"{figures.commit_rows_per_product:.2f} (its media row was imported by the setup); "
        f"whole run {figures.wall_seconds:.0f} s"
    )


RESULTS_SECTION = """\
## Media downloaded in an untimed setup, then named by URL

The media of both series are imported (their files downloaded from a loopback file server) before the timed
steps, so the commits link products to media that exist, as a re-sync from a DAM would: a new product
writes 6.5 catalog rows (the product, 2 prices, 2.5 category links, 1 media link) while A1 still copies
7.5 (the same rows and the media row).

- **N**: products per import; **batch**: records written per commit transaction.
- **A1**: COPY of the catalog rows of N products (7.5 rows each, media rows included), 1 connection, one
  transaction per 1000 products, into tables with the catalog's foreign keys: products/s.
- **push**: ingest over HTTP (in process), 4 concurrent clients, 1000-record bodies: records/s, and the
  p50 / p95 latency of one push.
- **new ×1**, **new ×2**: commit to done of N new products (6.5 rows each) with 1 and 2 runners: products/s
  and ratio to A1.
- **unchanged**: re-import of the same N products with no change, 1 runner: products/s and ratio to A1.
- **prepare s**: seconds of each commit spent preparing (dependencies and levels) before the first batch,
  for new ×1 / new ×2 / unchanged.
- **setup downloads/s**: informational, no ratio: the 2N media of the untimed setup committed by 1 runner
  with media services, each file fetched from the loopback file server: media/s from the commit request to
  done.
- **peak RSS**: peak resident memory of the benchmark process (API, runners and client) after the push /
  at the end, MB. A run stopped by `--time-limit` (which does not count the media setup) shows — for what
  it did not measure and says in this column where it stopped.

| date (UTC) | machine | commit | N | batch | A1 products/s | push records/s | push p50 / p95 ms | \
new ×1 products/s | ×A1 | new ×2 products/s | ×A1 | unchanged products/s | ×A1 | prepare s | \
setup downloads/s | peak RSS MB |
|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
"""

RESULTS_INTRO = """\
# Benchmark results

One row per run of `python -m benchmarks.commit_throughput` (see README.md). Absolute figures move 10–25 %
between runs on shared machines: compare the ratios to A1, which is measured in the same run.

"""
RESULTS_HEADER = RESULTS_INTRO + RESULTS_SECTION


def append_result(figures: Figures, machine_text: str, commit: str) -> None:
    one, two, again = figures.new_one_runner, figures.new_two_runners, figures.unchanged_reimport
    prepare = " / ".join(show(c.prepare_seconds if c else None, "{:.1f}") for c in (one, two, again))
    cells = [
        datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        f"{machine_text}, PostgreSQL {figures.server_version}",
        commit,
        f"{figures.products:,}",
        str(figures.batch_size),
        show(figures.baseline_products_per_second),
        show(figures.push_records_per_second),
        f"{show(figures.push_percentile(50))} / {show(figures.push_percentile(95))}",
        show(one.per_second if one else None),
        show(figures.ratio(one), "{:.2f}"),
        show(two.per_second if two else None),
        show(figures.ratio(two), "{:.2f}"),
        show(again.per_second if again else None),
        show(figures.ratio(again), "{:.2f}"),
        prepare,
        show(figures.media_setup.per_second if figures.media_setup else None),
        f"{show(figures.peak_rss_mb.get('push'))} / {max(figures.peak_rss_mb.values()):.0f}",
    ]
    if figures.stopped:
        cells[-1] += f" ({figures.stopped})"
    append_row(RESULTS_FILE, RESULTS_HEADER, cells)


def append_row(path: Path, header: str, cells: Sequence[str]) -> None:
    """Append one table row to a results file, writing its header first when the file is new."""
    if not path.exists():
        path.write_text(header)
    with path.open("a") as results:
        results.write("| " + " | ".join(cells) + " |\n")


def add_server_options(parser: argparse.ArgumentParser) -> None:
    """The options every benchmark shares: the commit batch size and the servers to run against."""
    parser.add_argument(
        "--batch-size",
        type=int,
        default=Settings.model_fields["commit_batch_size"].default,
        help="records per commit transaction (default: the server's, %(default)s)",
    )
    parser.add_argument("--database-url", help="a PostgreSQL server URL (default: embedded)")
    parser.add_argument("--redis-url", help="a Redis URL (default: embedded)")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.commit_throughput",
        description="Push the PERFORMANCE.md workload, commit it, and compare with a COPY baseline.",
    )
    parser.add_argument("--products", type=int, default=20_000, help="products per import (default 20000)")
    add_server_options(parser)
    parser.add_argument(
        "--time-limit",
        type=float,
        metavar="SECONDS",
        help="stop the run after this long and report what was measured until then (default: no limit)",
    )
    args = parser.parse_args(argv)
    if args.products < 1 or args.batch_size < 1:
        parser.error("--products and --batch-size must be positive")
    if args.products >= 1 << 24:
        parser.error("--products must stay below 16,777,216 (the images spell the index in 3 bytes)")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    # pgserver's platformdirs call warns when XDG_RUNTIME_DIR is unset (containers, CI).
    warnings.filterwarnings("ignore", category=UserWarning, module="platformdirs.*")
    configure_logging("WARNING", json=False)
    # Taken before the run: the code measured is the code loaded now.
    machine_text, commit = machine(), git_commit()
    with ExitStack() as stack:
        server_url, redis_url = stack.enter_context(servers(args.database_url, args.redis_url))
        database_url = stack.enter_context(scratch_database(server_url))
        files = stack.enter_context(media_files())
        figures = asyncio.run(
            run_benchmark(database_url, redis_url, files, args.products, args.batch_size, args.time_limit)
        )
    print_table(figures, machine_text, commit)
    append_result(figures, machine_text, commit)
    console.print(f"appended to {RESULTS_FILE.relative_to(PROJECT_ROOT)}")


if __name__ == "__main__":
    main()
