"""The workload of PERFORMANCE.md, the COPY baseline (A1) of its catalog rows, and a check of what the
catalog holds after an import.

5 taxes, prices in EUR and USD, a 3-level tree of 2,026 categories, and N products shaped like the
design's Appendix A record: a tax by name, 2 prices, 2–3 category links by path and 1 media by URL.
Products are numbered by series (one series per import of new products) and index; the same series and
index always give the same record, so a re-import names the same products. The peer-shaped records
(one price, one category, no media) are built from the same products."""

import io
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from PIL import Image
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

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

# The media the products name belong to the products of this series (their images, one per index); the
# media commit (M1) gives its products images of a series of their own.
MEDIA_SERIES = 1
ID_EPOCH_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
# Products per transaction of the baseline.
BASELINE_CHUNK = 1000
BASELINE_SCHEMA = "a1_baseline"


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


def category_links(count: int) -> int:
    """Product-category links of ``count`` products of a series."""
    return sum(len(category_paths(index)) for index in range(count))


def image_name(index: int, series: int = MEDIA_SERIES) -> str:
    return f"{series}-{index:07d}.png"


def image_bytes(index: int, series: int = MEDIA_SERIES) -> bytes:
    """A 2×1 PNG of about 70 bytes whose pixels spell the series and index: distinct per product."""
    pixels = bytes([series, index >> 16 & 0xFF, index >> 8 & 0xFF, index & 0xFF, 0, 0])
    buffer = io.BytesIO()
    Image.frombytes("RGB", (2, 1), pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def write_images(directory: Path, count: int, series: int = MEDIA_SERIES) -> float:
    """The image of each of ``count`` products of a media series; returns their average size in bytes."""
    total = 0
    for index in range(count):
        data = image_bytes(index, series)
        (directory / image_name(index, series)).write_bytes(data)
        total += len(data)
    return total / count


@dataclass(frozen=True, slots=True)
class ProductSpec:
    """Everything the workload says about one product; the HTTP records and the baseline rows are built
    from it, so the two write the same catalog. ``media_base`` is the URL the loopback file server serves
    the images at (None: the product has no media); every series names the media of ``MEDIA_SERIES``
    (unless given a ``media_series`` of its own), so the media are downloaded once. A ``revision`` above 0
    changes the name and the prices."""

    series: int
    index: int
    media_base: str | None
    revision: int = 0
    media_series: int = MEDIA_SERIES

    @property
    def id(self) -> uuid.UUID:
        return ordered_id(self.series, self.index)

    @property
    def number(self) -> str:
        return f"BENCH-{self.series}-{self.index:07d}"

    @property
    def name(self) -> str:
        suffix = f" (revision {self.revision})" if self.revision else ""
        return f"Product {self.series}-{self.index}{suffix}"

    @property
    def tax_name(self) -> str:
        return TAXES[self.index % len(TAXES)][0]

    @property
    def stock(self) -> int:
        return self.index % 500

    def prices(self) -> list[tuple[str, Decimal, Decimal]]:
        """(currency, gross, net) in EUR and USD."""
        net = 1000 + self.index % 9000 + 100 * self.revision
        return [
            ("EUR", Decimal(net * 119 // 100) / 100, Decimal(net) / 100),
            ("USD", Decimal(net * 129 // 100) / 100, Decimal(net * 108 // 100) / 100),
        ]

    def category_paths(self) -> list[tuple[str, ...]]:
        return category_paths(self.index)

    @property
    def media_id(self) -> uuid.UUID:
        """The media's id in the baseline (the server gives it its own)."""
        return ordered_id(100 + self.media_series, self.index)

    @property
    def media_url(self) -> str:
        return f"{self.media_base}/{image_name(self.index, self.media_series)}"

    def media_record(self) -> dict[str, Any]:
        """The media as the setup imports it (a root record), and as a product names it."""
        return {
            "url": self.media_url,
            "title": f"Image {self.media_series}-{self.index}",
            "alt": "alt",
            "filename": image_name(self.index, self.media_series),
        }

    def record(self) -> dict[str, Any]:
        """The record in the shape of the design's Appendix A."""
        record: dict[str, Any] = {
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
        }
        if self.media_base is not None:
            record["media"] = [self.media_record()]
        return record

    def peer_record(self) -> dict[str, Any]:
        """The shape of the peer's bulk-create workload: a tax, one price (EUR), one category, no media."""
        currency, gross, net = self.prices()[0]
        return {
            "id": self.id.hex,
            "name": self.name,
            "productNumber": self.number,
            "tax": {"name": self.tax_name},
            "prices": [{"currency": currency, "gross": float(gross), "net": float(net), "linked": False}],
            "stock": self.stock,
            "categories": [{"path": list(self.category_paths()[0])}],
        }

    def revised(self) -> "ProductSpec":
        return replace(self, revision=self.revision + 1)


def specs(
    series: int,
    count: int,
    start: int,
    size: int,
    media_base: str | None,
    revision: int = 0,
    media_series: int = MEDIA_SERIES,
) -> list[ProductSpec]:
    """The products of ``series`` from ``start``, ``size`` of them at most (one push body's worth)."""
    return [
        ProductSpec(series, index, media_base, revision, media_series)
        for index in range(start, min(start + size, count))
    ]


def tax_records() -> list[dict[str, Any]]:
    return [{"name": name, "taxRate": float(rate)} for name, rate in TAXES]


def category_records() -> list[dict[str, Any]]:
    """The category tree, parents first."""
    return [
        {"name": path[-1], "parent": list(path[:-1])} if len(path) > 1 else {"name": path[0]}
        for path in CATEGORY_PATHS
    ]


# -- A1: COPY of the catalog rows ----------------------------------------------------------------------

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

BASELINE_COLUMNS = {
    "media": ["id", "source_url", "title", "alt", "filename"],
    "products": ["id", "product_number", "name", "active", "stock", "tax_id"],
    "product_prices": ["product_id", "currency_id", "gross", "net", "linked"],
    "product_categories": ["product_id", "category_id"],
    "product_media": ["product_id", "media_id", "position"],
}


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
    """The catalog rows of ``chunk``, per table, in the order the foreign keys need: the media row too
    (the imports find it there, imported before them), so 7.5 rows per product with media."""
    rows: dict[str, list[tuple[Any, ...]]] = {table: [] for table in BASELINE_COLUMNS}
    for spec in chunk:
        tax = ids["tax"][spec.tax_name]
        rows["products"].append((spec.id, spec.number, spec.name, True, spec.stock, tax))
        for currency, gross, net in spec.prices():
            rows["product_prices"].append((spec.id, ids["currency"][currency], gross, net, False))
        for path in spec.category_paths():
            rows["product_categories"].append((spec.id, ids["category"][path]))
        if spec.media_base is not None:
            record = spec.media_record()
            rows["media"].append((spec.media_id, spec.media_url, record["title"], "alt", record["filename"]))
            rows["product_media"].append((spec.id, spec.media_id, 0))
    return rows


@dataclass(frozen=True)
class Baseline:
    """A1: ``products`` products, ``rows`` catalog rows, copied in ``seconds`` (the transactions only)."""

    products: int
    rows: int
    seconds: float

    @property
    def products_per_second(self) -> float:
        return self.products / self.seconds

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds


async def measure_baseline(database_url: str, series: int, count: int, media_base: str | None) -> Baseline:
    """A1: COPY the catalog rows of ``count`` products of ``series`` into copies of the catalog tables
    (with their foreign keys), one transaction per 1000 products, on one connection. Only the
    transactions are timed, not building the rows. The copies are dropped afterwards."""
    connection = await asyncpg.connect(database_url)
    try:
        ids = await create_baseline_schema(connection)
        elapsed, copied = 0.0, 0
        for start in range(0, count, BASELINE_CHUNK):
            rows = baseline_rows(specs(series, count, start, BASELINE_CHUNK, media_base), ids)
            started = time.perf_counter()
            async with connection.transaction():
                for table, records in rows.items():
                    if records:
                        await connection.copy_records_to_table(
                            table,
                            schema_name=BASELINE_SCHEMA,
                            columns=BASELINE_COLUMNS[table],
                            records=records,
                        )
            elapsed += time.perf_counter() - started
            copied += sum(len(records) for records in rows.values())
        await connection.execute(f"DROP SCHEMA {BASELINE_SCHEMA} CASCADE")
    finally:
        await connection.close()
    return Baseline(count, copied, elapsed)


# -- what the catalog should hold ----------------------------------------------------------------------


@dataclass
class ExpectedCatalog:
    """The rows the catalog should hold after the imports so far."""

    taxes: int = 0
    categories: int = 0
    products: int = 0
    product_prices: int = 0
    product_categories: int = 0
    product_media: int = 0
    media: int = 0

    def add_products(self, count: int, *, prices: int, with_media: bool, one_category: bool = False) -> None:
        """``count`` new products, each with ``prices`` prices, its 2–3 categories (or ``one_category``)
        and, ``with_media``, a link to its media; the first products bring the taxes and categories."""
        self.taxes, self.categories = len(TAXES), len(CATEGORY_PATHS)
        self.products += count
        self.product_prices += prices * count
        self.product_categories += count if one_category else category_links(count)
        self.product_media += count if with_media else 0


CATALOG_TABLES = (
    "taxes",
    "categories",
    "products",
    "product_prices",
    "product_categories",
    "product_media",
    "media",
)


async def check_catalog(engine: AsyncEngine, expected: ExpectedCatalog, media_since: datetime | None) -> None:
    """The catalog holds the rows ``expected`` says, every media has a file of its own, and no media row
    was written again after ``media_since`` (the end of the media setup)."""
    async with engine.connect() as connection:
        counts = {
            table: await connection.scalar(text(f"SELECT count(*) FROM {table}"))  # noqa: S608 (constant names)
            for table in CATALOG_TABLES
        }
        counts["media files"] = await connection.scalar(text("SELECT count(DISTINCT sha256) FROM media"))
        if media_since is not None:
            counts["media written since the setup"] = await connection.scalar(
                text("SELECT count(*) FROM media WHERE updated_at >= :since"), {"since": media_since}
            )
    wanted: dict[str, int] = {table: getattr(expected, table) for table in CATALOG_TABLES}
    wanted["media files"] = expected.media
    if media_since is not None:
        wanted["media written since the setup"] = 0
    if counts != wanted:
        differing = {name: (counts[name], wanted[name]) for name in wanted if counts[name] != wanted[name]}
        raise RuntimeError(f"unexpected catalog contents (found, expected): {differing}")


async def database_now(engine: AsyncEngine) -> datetime:
    async with engine.connect() as connection:
        now: datetime = await connection.scalar(text("SELECT clock_timestamp()"))
    return now


async def products_written_since(engine: AsyncEngine, since: datetime) -> int:
    """Products whose row was inserted or updated after ``since``."""
    async with engine.connect() as connection:
        count = await connection.scalar(
            text("SELECT count(*) FROM products WHERE updated_at >= :since"), {"since": since}
        )
    return int(count or 0)
