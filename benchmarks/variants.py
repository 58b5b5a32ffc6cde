"""Variants benchmark: products with a generated configurator (Size: 3 values × Color: 2 values, so 6
variants each) pushed over HTTP and written by the committer, against a COPY baseline of the same catalog
rows taken in the same run on the same PostgreSQL server.

    .venv/bin/python -m benchmarks.variants [--parents 10000] [--batch-size B]
                                            [--database-url URL] [--redis-url URL]

Without URLs an embedded PostgreSQL and Redis are started in a temporary directory. Either way the
benchmark creates a database of its own on the server, migrates it, and drops it at the end. The API is
called in process (httpx's ASGI transport) and the imports are written by ``ImportRunner``s in this
process, as a worker's jobs would write them. It prints a table and appends one row to
``benchmarks/results-variants.md``."""

import argparse
import asyncio
import resource
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import orjson
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from benchmarks.api import ApiClient, push_bodies
from benchmarks.common import (
    PROJECT_ROOT,
    add_server_options,
    append_row,
    benchmark_run,
    console,
    percentile,
    show,
)
from benchmarks.workload import copy_catalog_tables, ordered_id
from catalog_import.committer.planner import prepare_import
from catalog_import.committer.runner import ImportRunner, RunnerOptions
from catalog_import.config import Settings
from catalog_import.db import create_engine, create_session_factory
from catalog_import.media.services import MediaServices, media_services
from catalog_import.queue import forget_queue

RESULTS_FILE = Path(__file__).resolve().parent / "results-variants.md"
BASELINE_SCHEMA = "variants_baseline"

# -- the workload --------------------------------------------------------------------------------------

TAX_NAME, TAX_RATE = "Standard rate", Decimal("19")
# The configurator of every parent, in the order it is pushed: the first property varies slowest, so
# variant n (numbered from 1) has size (n - 1) // 2 and color (n - 1) % 2.
SIZES = ("S", "M", "L")
COLORS = ("Red", "Blue")
PROPERTIES: tuple[tuple[str, tuple[str, ...]], ...] = (("Size", SIZES), ("Color", COLORS))
COMBINATIONS: list[tuple[str, str]] = [(size, color) for size in SIZES for color in COLORS]
VARIANTS = len(COMBINATIONS)
PRODUCTS_PER_PARENT = 1 + VARIANTS
PUSH_SIZE = 1000
PUSH_CLIENTS = 4
# A1 writes about 1000 products per transaction, as the harness's A1 does: 143 parents, 1,001 products.
BASELINE_PARENTS = -(-1000 // PRODUCTS_PER_PARENT)

# Series 1 is committed by 1 runner and re-imported unchanged; series 2 (new numbers) by 2 runners.
FIRST_SERIES = 1
SECOND_SERIES = 2
ID_SERIES_OFFSET = 20  # keeps the parents' ids apart from the product workload's series


@dataclass(frozen=True, slots=True)
class ParentSpec:
    """One parent product; the HTTP record and the baseline rows are both built from it."""

    series: int
    index: int

    @property
    def id(self) -> uuid.UUID:
        return ordered_id(ID_SERIES_OFFSET + self.series, self.index)

    @property
    def number(self) -> str:
        return f"VAR-{self.series}-{self.index:07d}"

    @property
    def name(self) -> str:
        return f"Shirt {self.series}-{self.index}"

    @property
    def stock(self) -> int:
        return self.index % 500

    @property
    def price(self) -> tuple[Decimal, Decimal]:
        """(gross, net) in EUR."""
        net = 1000 + self.index % 9000
        return Decimal(net * 119 // 100) / 100, Decimal(net) / 100

    def record(self) -> dict[str, Any]:
        gross, net = self.price
        return {
            "id": self.id.hex,
            "productNumber": self.number,
            "name": self.name,
            "tax": {"name": TAX_NAME},
            "prices": [{"currency": "EUR", "gross": float(gross), "net": float(net), "linked": False}],
            "stock": self.stock,
            "variants": [
                {"property": group, "value": value} for group, values in PROPERTIES for value in values
            ],
        }


def parents(series: int, count: int, start: int) -> list[ParentSpec]:
    """The parents of ``series`` from ``start``, one push body's worth."""
    return [ParentSpec(series, index) for index in range(start, min(start + PUSH_SIZE, count))]


# -- figures -------------------------------------------------------------------------------------------


@dataclass
class CommitFigures:
    """One commit of ``records`` products by ``runners``, from the commit request to done."""

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


@dataclass
class Figures:
    parents: int
    batch_size: int
    record_bytes: float = 0.0
    baseline_seconds: float = 0.0
    baseline_rows: int = 0
    push_seconds: float = 0.0
    push_latencies: list[float] = field(default_factory=list)
    new_one_runner: CommitFigures | None = None
    new_two_runners: CommitFigures | None = None
    unchanged_reimport: CommitFigures | None = None
    rewritten_on_reimport: int | None = None
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    server_version: str = ""
    wall_seconds: float = 0.0
    products: int = field(init=False)

    def __post_init__(self) -> None:
        self.products = self.parents * PRODUCTS_PER_PARENT

    def push_per_second(self, records: int) -> float | None:
        return records / self.push_seconds if self.push_seconds else None

    @property
    def baseline_products_per_second(self) -> float | None:
        return self.products / self.baseline_seconds if self.baseline_seconds else None

    def push_percentile(self, percent: int) -> float | None:
        """Push latency in milliseconds at ``percent``."""
        value = percentile(self.push_latencies, percent)
        return None if value is None else value * 1000

    def ratio(self, commit: CommitFigures | None) -> float | None:
        baseline = self.baseline_products_per_second
        return None if commit is None or baseline is None else commit.per_second / baseline

    def sample_rss(self, phase: str) -> None:
        # ru_maxrss is the peak so far, in KiB on Linux.
        self.peak_rss_mb[phase] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the baseline: COPY of the same catalog rows ------------------------------------------------------

BASELINE_TABLES = (
    "taxes",
    "currencies",
    "products",
    "product_prices",
    "property_groups",
    "property_options",
    "product_options",
)

BASELINE_COLUMNS = {
    "products": ["id", "product_number", "name", "active", "stock", "tax_id", "parent_id"],
    "product_prices": ["product_id", "currency_id", "gross", "net", "linked"],
    "product_options": ["product_id", "option_id"],
}


@dataclass(frozen=True)
class BaselineIds:
    tax: uuid.UUID
    eur: uuid.UUID
    options: dict[tuple[str, str], uuid.UUID]  # by (group, option)


async def create_baseline_schema(connection: asyncpg.Connection) -> BaselineIds:
    """Copies of the catalog tables the workload writes, holding the tax, the currencies and the two
    property groups with their five options (the commit creates the groups and options itself, once)."""
    schema = BASELINE_SCHEMA
    await copy_catalog_tables(connection, schema, BASELINE_TABLES)
    await connection.execute(
        f"INSERT INTO {schema}.currencies SELECT * FROM public.currencies"  # noqa: S608 (constant schema)
    )
    eur = await connection.fetchval(
        f"SELECT id FROM {schema}.currencies WHERE iso_code = 'EUR'"  # noqa: S608 (constant schema)
    )
    tax = ordered_id(90, 0)
    await connection.copy_records_to_table(
        "taxes", schema_name=schema, columns=["id", "name", "tax_rate"], records=[(tax, TAX_NAME, TAX_RATE)]
    )
    groups = {group: ordered_id(92, n) for n, (group, _values) in enumerate(PROPERTIES)}
    await connection.copy_records_to_table(
        "property_groups",
        schema_name=schema,
        columns=["id", "name"],
        records=[(group_id, group) for group, group_id in groups.items()],
    )
    options = {
        (group, value): ordered_id(93, 10 * n + m)
        for n, (group, values) in enumerate(PROPERTIES)
        for m, value in enumerate(values)
    }
    await connection.copy_records_to_table(
        "property_options",
        schema_name=schema,
        columns=["id", "group_id", "name"],
        records=[(option_id, groups[group], value) for (group, value), option_id in options.items()],
    )
    return BaselineIds(tax, eur, options)


def baseline_rows(chunk: Sequence[ParentSpec], ids: BaselineIds) -> dict[str, list[tuple[Any, ...]]]:
    """The catalog rows of the parents of ``chunk`` and of their variants, per table, in the order the
    foreign keys need (parents before their variants)."""
    rows: dict[str, list[tuple[Any, ...]]] = {"products": [], "product_prices": [], "product_options": []}
    for spec in chunk:
        gross, net = spec.price
        rows["products"].append((spec.id, spec.number, spec.name, True, spec.stock, ids.tax, None))
        rows["product_prices"].append((spec.id, ids.eur, gross, net, False))
        for n, (size, color) in enumerate(COMBINATIONS, start=1):
            child = ordered_id(ID_SERIES_OFFSET + 10 + spec.series, spec.index * VARIANTS + n)
            number = f"{spec.number}.{n}"
            rows["products"].append((child, number, spec.name, True, spec.stock, ids.tax, spec.id))
            rows["product_prices"].append((child, ids.eur, gross, net, False))
            rows["product_options"].append((child, ids.options["Size", size]))
            rows["product_options"].append((child, ids.options["Color", color]))
    return rows


async def measure_baseline(database_url: str, figures: Figures) -> None:
    """COPY the catalog rows of the parents and their variants into the copied tables, one transaction
    per 143 parents (1,001 products), on one connection. Only the transactions are timed."""
    connection = await asyncpg.connect(database_url)
    try:
        ids = await create_baseline_schema(connection)
        elapsed = 0.0
        for start in range(0, figures.parents, BASELINE_PARENTS):
            chunk = [
                ParentSpec(FIRST_SERIES, i)
                for i in range(start, min(start + BASELINE_PARENTS, figures.parents))
            ]
            rows = baseline_rows(chunk, ids)
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


def sql_array(values: Sequence[str]) -> str:
    """A text array literal of constant names."""
    return "ARRAY[" + ", ".join(f"'{value}'" for value in values) + "]::text[]"


# -- checks --------------------------------------------------------------------------------------------

# Per catalog: counts, and the variants that are not exactly what the configurator says: a parent without
# exactly 6 variants, a variant without exactly one Size and one Color, a combination twice under one
# parent, a variant numbered other than <parent>.<n> for its combination, or one that does not carry its
# parent's name, stock, tax and price.
CATALOG_CHECKS = {
    "products": "SELECT count(*) FROM products",
    "parents": "SELECT count(*) FROM products WHERE parent_id IS NULL",
    "variants": "SELECT count(*) FROM products WHERE parent_id IS NOT NULL",
    "product_prices": "SELECT count(*) FROM product_prices",
    "product_options": "SELECT count(*) FROM product_options",
    "property_groups": "SELECT count(*) FROM property_groups",
    "property_options": "SELECT count(*) FROM property_options",
    "taxes": "SELECT count(*) FROM taxes",
    "parents without 6 variants": """
        SELECT count(*) FROM products parent
        WHERE parent.parent_id IS NULL
          AND (SELECT count(*) FROM products v WHERE v.parent_id = parent.id) <> 6""",
    "variants not one Size and one Color": """
        SELECT count(*) FROM products v
        WHERE v.parent_id IS NOT NULL AND (
            SELECT array_agg(g.name ORDER BY g.name) FROM product_options po
            JOIN property_options o ON o.id = po.option_id JOIN property_groups g ON g.id = o.group_id
            WHERE po.product_id = v.id) IS DISTINCT FROM ARRAY['Color', 'Size']::varchar[]""",
    "combinations repeated under a parent": """
        SELECT count(*) FROM (
            SELECT v.parent_id, array_agg(o.id ORDER BY o.id) AS combination
            FROM products v JOIN product_options po ON po.product_id = v.id
            JOIN property_options o ON o.id = po.option_id
            WHERE v.parent_id IS NOT NULL GROUP BY v.id
        ) AS combinations GROUP BY parent_id, combination HAVING count(*) > 1""",
    "variants numbered otherwise": f"""
        SELECT count(*) FROM products v JOIN products parent ON parent.id = v.parent_id
        WHERE v.product_number IS DISTINCT FROM parent.product_number || '.' || (
            SELECT 1 + {len(COLORS)} * (array_position({sql_array(SIZES)}, max(o.name) FILTER (WHERE g.name = 'Size')) - 1)
                     + (array_position({sql_array(COLORS)}, max(o.name) FILTER (WHERE g.name = 'Color')) - 1)
            FROM product_options po JOIN property_options o ON o.id = po.option_id
            JOIN property_groups g ON g.id = o.group_id WHERE po.product_id = v.id)""",  # noqa: S608 (constant names)
    "variants unlike their parent": """
        SELECT count(*) FROM products v JOIN products parent ON parent.id = v.parent_id
        LEFT JOIN product_prices vp ON vp.product_id = v.id
        LEFT JOIN product_prices pp ON pp.product_id = parent.id
        WHERE (v.name, v.stock, v.tax_id, vp.currency_id, vp.gross, vp.net, vp.linked)
              IS DISTINCT FROM
              (parent.name, parent.stock, parent.tax_id, pp.currency_id, pp.gross, pp.net, pp.linked)
           OR vp.product_id IS NULL""",
}


async def check_catalog(engine: AsyncEngine, parent_count: int) -> None:
    """The catalog holds ``parent_count`` parents, each with the 6 variants of its configurator and
    nothing else."""
    async with engine.connect() as connection:
        counts = {name: int(await connection.scalar(text(sql)) or 0) for name, sql in CATALOG_CHECKS.items()}
    products = parent_count * PRODUCTS_PER_PARENT
    expected = {
        "products": products,
        "parents": parent_count,
        "variants": parent_count * VARIANTS,
        "product_prices": products,
        "product_options": parent_count * VARIANTS * len(PROPERTIES),
        "property_groups": len(PROPERTIES),
        "property_options": sum(len(values) for _group, values in PROPERTIES),
        "taxes": 1,
    }
    expected |= {name: 0 for name in CATALOG_CHECKS if name not in expected}
    if counts != expected:
        differing = {
            name: (counts[name], expected[name]) for name in expected if counts[name] != expected[name]
        }
        raise RuntimeError(f"unexpected catalog contents (found, expected): {differing}")


WRITTEN_TABLES = ("products", "product_prices", "product_options", "property_groups", "property_options")


async def current_xid(engine: AsyncEngine) -> str:
    """A transaction id taken now: rows written later have a younger ``xmin``."""
    async with engine.connect() as connection:
        full = int(await connection.scalar(text("SELECT pg_current_xact_id()::text")) or 0)
    return str(full % 2**32)


async def written_since(engine: AsyncEngine, xid: str) -> int:
    """Rows of the tables a product import writes that were inserted or updated by a transaction after
    ``xid`` (by the age of their ``xmin``, which survives a wrap of the counter)."""
    younger = "age(xmin) <= age(CAST(CAST(:xid AS text) AS xid))"
    counts = " + ".join(
        f"(SELECT count(*) FROM {table} WHERE {younger})"  # noqa: S608 (constant names)
        for table in WRITTEN_TABLES
    )
    async with engine.connect() as connection:
        return int(await connection.scalar(text(f"SELECT {counts}"), {"xid": xid}) or 0)


# -- the run -------------------------------------------------------------------------------------------


async def push_parents(api: ApiClient, import_id: uuid.UUID, series: int, count: int) -> list[float]:
    """Push ``count`` parents in 1000-record bodies from 4 concurrent clients; the latency of each push."""

    async def send(body: bytes) -> None:
        await api.push(import_id, body)

    return await push_bodies(
        send,
        range(0, count, PUSH_SIZE),
        lambda start: {"products": [spec.record() for spec in parents(series, count, start)]},
        PUSH_CLIENTS,
    )


async def commit_and_write(
    api: ApiClient, import_id: uuid.UUID, settings: Settings, *, runners: int, count: int
) -> CommitFigures:
    """Commit over HTTP, then write the import with ``runners`` ImportRunners, each on an engine and with
    media services of its own (as separate worker processes would have; built before the clock starts,
    as a worker builds them when it starts). Preparation (levels, dependencies) is timed on its own; the
    runners then find the import prepared. The figure covers commit to done of ``count`` products."""
    assert settings.database_url is not None
    engines = [create_engine(settings.database_url, pool_size=2) for _ in range(runners)]
    services: list[MediaServices] = []
    try:
        factories = [create_session_factory(engine) for engine in engines]
        services.extend(media_services(settings) for _ in range(runners))
        started = time.perf_counter()
        await api.commit(import_id)
        async with factories[0]() as session, session.begin():
            if not await prepare_import(
                session, import_id, settings.commit_batch_size, settings.commit_media_batch_size
            ):
                raise RuntimeError("the committed import is not importing")
        prepared = time.perf_counter()
        options = RunnerOptions(
            batch_size=settings.commit_batch_size,
            media_batch_size=settings.commit_media_batch_size,
            media_lanes=settings.commit_media_batches_at_once,
        )
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
        or totals["product"] != count
    ):
        raise RuntimeError(f"the import did not end as expected: {str(status)[:2000]}")
    return CommitFigures(runners, count, prepared - started, done - prepared)


async def run_benchmark(database_url: str, redis_url: str, parent_count: int, batch_size: int) -> Figures:
    figures = Figures(parents=parent_count, batch_size=batch_size)
    started = time.perf_counter()
    sample = [ParentSpec(FIRST_SERIES, index).record() for index in range(min(parent_count, 1000))]
    figures.record_bytes = sum(len(orjson.dumps(record)) for record in sample) / len(sample)
    figures.sample_rss("setup")
    engine = create_engine(database_url, pool_size=2)
    queue_name = f"catalog-import-bench-{uuid.uuid4().hex[:8]}"
    imports: list[uuid.UUID] = []
    with tempfile.TemporaryDirectory(prefix="ci-bench-variants-") as media_dir:
        settings = Settings(
            database_url=database_url,
            redis_url=redis_url,
            secret_key=SecretStr("benchmark-signing-key-" + uuid.uuid4().hex),
            token_ttl_seconds=86_400,
            queue_name=queue_name,
            commit_batch_size=batch_size,
            media_dir=Path(media_dir),
        )
        try:
            await run_steps(figures, engine, settings, imports)
        finally:
            await engine.dispose()
            await forget_queue(redis_url, queue_name, [f"import:{i.hex}:*" for i in imports])
    figures.wall_seconds = time.perf_counter() - started
    return figures


async def run_steps(
    figures: Figures, engine: AsyncEngine, settings: Settings, imports: list[uuid.UUID]
) -> None:
    assert settings.database_url is not None
    count, products = figures.parents, figures.products
    async with engine.connect() as connection:
        figures.server_version = str(await connection.scalar(text("SHOW server_version")))

    console.log(f"A1: COPY of {products:,} products ({count:,} parents with {VARIANTS} variants each)")
    await measure_baseline(settings.database_url, figures)
    figures.sample_rss("baseline")
    console.log(f"  {figures.baseline_products_per_second:,.0f} products/s")

    async with ApiClient.serving(settings) as api:
        console.log(f"push: {count:,} parents, {PUSH_CLIENTS} clients, {PUSH_SIZE}-parent bodies")
        first = await api.start("benchmark-variants")
        imports.append(first)
        await api.push(first, {"taxes": [{"name": TAX_NAME, "taxRate": float(TAX_RATE)}]})
        push_started = time.perf_counter()
        figures.push_latencies = await push_parents(api, first, FIRST_SERIES, count)
        figures.push_seconds = time.perf_counter() - push_started
        figures.sample_rss("push")
        console.log(f"  {figures.push_per_second(products):,.0f} staged product records/s")

        console.log("commit: new products, 1 runner")
        figures.new_one_runner = await commit_and_write(api, first, settings, runners=1, count=products)
        figures.sample_rss("commit new, 1 runner")
        await check_catalog(engine, count)
        console.log(f"  {figures.new_one_runner.per_second:,.0f} products/s")

        console.log("push of more new parents (new product numbers)")
        second = await api.start("benchmark-more-variants")
        imports.append(second)
        await push_parents(api, second, SECOND_SERIES, count)
        console.log("commit: new products, 2 runners")
        figures.new_two_runners = await commit_and_write(api, second, settings, runners=2, count=products)
        figures.sample_rss("commit new, 2 runners")
        await check_catalog(engine, 2 * count)
        console.log(f"  {figures.new_two_runners.per_second:,.0f} products/s")

        console.log("push of the unchanged parents")
        third = await api.start("benchmark-unchanged-variants")
        imports.append(third)
        await push_parents(api, third, FIRST_SERIES, count)
        before = await current_xid(engine)
        console.log("commit: unchanged re-import, 1 runner")
        figures.unchanged_reimport = await commit_and_write(api, third, settings, runners=1, count=products)
        figures.sample_rss("unchanged re-import")
        figures.rewritten_on_reimport = await written_since(engine, before)
        await check_catalog(engine, 2 * count)
        console.log(f"  {figures.unchanged_reimport.per_second:,.0f} products/s")


# -- reporting -----------------------------------------------------------------------------------------


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
    table = Table(
        title=f"Variants, {figures.parents:,} parents × {VARIANTS} variants = {figures.products:,} products, "
        f"commit batch {figures.batch_size}",
        caption=f"{machine_text}; PostgreSQL {figures.server_version}; commit {commit}",
    )
    table.add_column("measure")
    table.add_column("figure", justify="right")
    table.add_column("× A1", justify="right")
    table.add_column("notes")
    rows_per_second = figures.baseline_rows / figures.baseline_seconds if figures.baseline_seconds else None
    table.add_row(
        f"A1: COPY, 1 connection, {BASELINE_PARENTS} parents/tx",
        show(figures.baseline_products_per_second, "{:,.0f} products/s"),
        "1.00×",
        f"{figures.baseline_rows:,} rows, {show(rows_per_second)} rows/s, {figures.baseline_seconds:.1f} s",
    )
    table.add_row(
        f"push, {PUSH_CLIENTS} clients, {PUSH_SIZE}-parent bodies",
        show(figures.push_per_second(figures.parents), "{:,.0f} parents/s"),
        "",
        f"{show(figures.push_per_second(figures.products))} staged product records/s; "
        f"p50 {show(figures.push_percentile(50))} ms, p95 {show(figures.push_percentile(95))} ms, "
        f"{figures.push_seconds:.1f} s",
    )
    table.add_row(*commit_row("commit, new products, 1 runner", figures.new_one_runner, figures))
    table.add_row(*commit_row("commit, new products, 2 runners", figures.new_two_runners, figures))
    label, rate, ratio, notes = commit_row(
        "commit, unchanged re-import, 1 runner", figures.unchanged_reimport, figures
    )
    if figures.rewritten_on_reimport is not None:
        notes += f"; rows written: {figures.rewritten_on_reimport}"
    table.add_row(label, rate, ratio, notes)
    peaks = ", ".join(f"{phase} {mb:.0f}" for phase, mb in figures.peak_rss_mb.items())
    table.add_row("peak RSS of this process", f"{max(figures.peak_rss_mb.values()):.0f} MB", "", peaks)
    Console().print(table)
    console.print(
        f"workload: {figures.record_bytes:.0f} bytes per parent record; catalog rows per parent: "
        f"{figures.baseline_rows / max(figures.parents, 1):.0f}; whole run {figures.wall_seconds:.0f} s"
    )


RESULTS_HEADER = """\
# Variant benchmark results

One row per run of `python -m benchmarks.variants` (see README.md). Each parent product record carries a
configurator of Size (3 values) × Color (2 values), one tax and one EUR price, no media; it generates 6
variants, so a parent is 7 products and 26 catalog rows (7 products, 7 prices, 12 product-option links:
a Size and a Color per variant).
Absolute figures move 10–25 % between runs on shared machines: compare the ratios to A1, which is
measured in the same run.

- **parents**: parent records per import; **products**: parents and variants (7 per parent);
  **batch**: staged records written per commit transaction.
- **A1**: COPY of the catalog rows of the parents and their variants (products, prices, product-option
  links) into copies of the catalog tables with their foreign keys, 1 connection, one transaction per 143
  parents (1,001 products): products/s.
- **push**: ingest over HTTP (in process), 4 concurrent clients, bodies of 1000 parent records (7,000
  staged product records each): parent records/s, staged product records/s, and the p50 / p95 latency of
  one push.
- **new ×1**, **new ×2**: commit to done of the new parents and their variants with 1 and 2 runners
  (the second import has product numbers of its own): products/s and ratio to A1.
- **unchanged**: re-import of the first import's parents without any change (variants matched by their
  options), 1 runner: products/s and ratio to A1. **rows written**: catalog rows (products, prices,
  option links, groups, options) inserted or updated by it; 0 when nothing is rewritten.
- **prepare s**: seconds of each commit spent preparing before the first batch, new ×1 / new ×2 /
  unchanged.
- **peak RSS**: peak resident memory of the benchmark process (API, runners and clients) after the push /
  at the end, MB.

| date (UTC) | machine | commit | parents | products | batch | A1 products/s | push parents/s | \
push products/s | push p50 / p95 ms | new ×1 products/s | ×A1 | new ×2 products/s | ×A1 | \
unchanged products/s | ×A1 | rows written | prepare s | peak RSS MB |
|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
"""


def append_result(figures: Figures, machine_text: str, commit: str) -> None:
    one, two, again = figures.new_one_runner, figures.new_two_runners, figures.unchanged_reimport
    prepare = " / ".join(show(c.prepare_seconds if c else None, "{:.1f}") for c in (one, two, again))
    cells = [
        datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        f"{machine_text}, PostgreSQL {figures.server_version}",
        commit,
        f"{figures.parents:,}",
        f"{figures.products:,}",
        str(figures.batch_size),
        show(figures.baseline_products_per_second),
        show(figures.push_per_second(figures.parents)),
        show(figures.push_per_second(figures.products)),
        f"{show(figures.push_percentile(50))} / {show(figures.push_percentile(95))}",
        show(one.per_second if one else None),
        show(figures.ratio(one), "{:.2f}"),
        show(two.per_second if two else None),
        show(figures.ratio(two), "{:.2f}"),
        show(again.per_second if again else None),
        show(figures.ratio(again), "{:.2f}"),
        show(figures.rewritten_on_reimport),
        prepare,
        f"{show(figures.peak_rss_mb.get('push'))} / {max(figures.peak_rss_mb.values()):.0f}",
    ]
    append_row(RESULTS_FILE, RESULTS_HEADER, cells)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.variants",
        description="Push parents with 6 generated variants each, commit them, and compare with COPY.",
    )
    parser.add_argument("--parents", type=int, default=10_000, help="parents per import (default 10000)")
    add_server_options(parser)
    args = parser.parse_args(argv)
    if args.parents < 1 or args.batch_size < 1:
        parser.error("--parents and --batch-size must be positive")
    if args.parents * VARIANTS >= 1 << 32:
        parser.error("--parents is too large for the baseline's ids")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    with benchmark_run(args) as run:
        figures = asyncio.run(run_benchmark(run.database_url, run.redis_url, args.parents, args.batch_size))
    print_table(figures, run.machine, run.commit)
    append_result(figures, run.machine, run.commit)
    console.print(f"appended to {RESULTS_FILE.relative_to(PROJECT_ROOT)}")


if __name__ == "__main__":
    main()
