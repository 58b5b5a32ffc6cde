"""What the writers share: the batch they get, how they run SQL over it, and how database errors of a
single record become its problem."""

import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BigInteger, TextClause, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_import.db import constraint_name
from catalog_import.media.download import DownloadError, StoredFile
from catalog_import.media.services import MediaServices
from catalog_import.problems import Problem, error


@dataclass
class WriteContext:
    """What writers need beyond the database, for one batch."""

    media: MediaServices | None = None
    # Downloads of this batch by URL, kept so that writing the batch again record by record does not
    # fetch again.
    downloads: dict[str, StoredFile | DownloadError] = field(default_factory=dict)
    # Files the batch stored or let go of: removed after the batch unless a media row uses them.
    touched_files: set[str] = field(default_factory=set)
    # Whether a category of the import lists products; without any, no product gets links from them.
    categories_list_products: bool = True
    # Whether a media that cannot be downloaded is left out with a warning (``mediaFailure: "skip"``)
    # rather than failing, and with it its root.
    skip_failed_media: bool = False


@dataclass(frozen=True, slots=True)
class ClaimedRecord:
    record_id: int
    entity: str
    entity_id: uuid.UUID
    action: str
    path: str
    root: bool


Problems = dict[int, list[Problem]]
Writer = Callable[[AsyncSession, Sequence[ClaimedRecord], WriteContext], Awaitable[Problems]]
"""Writes a batch and returns the problems of the records it did not write: with an error they failed,
with warnings only they were skipped (media while URL upload is disabled)."""


def batch_sql(statement: str) -> TextClause:
    """A statement over the batch: ``:ids`` is the array of the batch's staged record ids."""
    return text(statement).bindparams(bindparam("ids", type_=ARRAY(BigInteger)))


def touching_products(statement: str) -> str:
    """``statement``, which returns as ``product_id`` the products whose prices or links it changed, and
    then those products' ``updated_at`` set to now unless this transaction set it already: a product's
    ``updatedAt`` tells when anything its view shows of its own changed (``updatedSince``, CONTRACT
    §9.6), and what changes nothing touches nothing."""
    return f"""
WITH changed AS ({statement})
UPDATE products p SET updated_at = now()
FROM (SELECT DISTINCT product_id FROM changed) AS c
WHERE p.id = c.product_id AND p.updated_at < now()
"""


TOUCH_PRODUCTS = """
UPDATE products SET updated_at = now() WHERE id = ANY(:products) AND updated_at < now()
"""


async def touch_products(session: AsyncSession, product_ids: Sequence[uuid.UUID]) -> None:
    """What ``touching_products`` does, for a writer of another level whose statement may change no
    product at all: only then, and only those, so that such a level takes no lock on ``products``."""
    if product_ids:
        statement = text(TOUCH_PRODUCTS).bindparams(bindparam("products", type_=ARRAY(UUID(as_uuid=True))))
        await session.execute(statement, {"products": list(product_ids)})


async def rows(session: AsyncSession, statement: str, ids: Iterable[int]) -> Sequence[Any]:
    return (await session.execute(batch_sql(statement), {"ids": list(ids)})).all()


async def run(session: AsyncSession, statement: str, ids: Iterable[int]) -> None:
    await session.execute(batch_sql(statement), {"ids": list(ids)})


def problems_by_record(
    records: Sequence[ClaimedRecord], found: Iterable[tuple[int, str, str]], path_suffix: str = ""
) -> Problems:
    """Problems from (record_id, code, message) rows, at each record's path."""
    paths = {record.record_id: record.path for record in records}
    problems: Problems = {}
    for record_id, code, message in found:
        problems.setdefault(record_id, []).append(error(code, message, paths[record_id] + path_suffix))
    return problems


CONSTRAINT_CODES = {
    "uq_products_product_number": "DUPLICATE_PRODUCT_NUMBER",
    "uq_categories_parent_id_name": "DUPLICATE_CATEGORY_PATH",
    "uq_categories_path_key": "DUPLICATE_CATEGORY_PATH",
    "uq_taxes_name": "DUPLICATE_TAX_NAME",
    "uq_media_source_url": "DUPLICATE_MEDIA_URL",
    "fk_products_tax_id_taxes": "TAX_NOT_FOUND",
    "fk_product_categories_category_id_categories": "CATEGORY_NOT_FOUND",
    "fk_product_media_media_id_media": "MEDIA_NOT_FOUND",
    "fk_categories_parent_id_categories": "CATEGORY_NOT_FOUND",
}


def database_problem(exc: DBAPIError, path: str) -> Problem:
    """The problem of one record whose write the database refused."""
    original = getattr(exc, "orig", None)
    constraint = constraint_name(exc)
    detail = str(original or exc).splitlines()[0]
    detail = re.sub(r"^<class '[^']+'>:\s*", "", detail)
    code = CONSTRAINT_CODES.get(constraint or "", "CONSTRAINT_VIOLATION" if constraint else "INVALID_VALUE")
    return error(code, f"The record could not be written: {detail}", path)


def ids_of(
    records: Sequence[ClaimedRecord], *, action: str | None = None, exclude: Iterable[int] = ()
) -> list[int]:
    skipped = set(exclude)
    return [
        record.record_id
        for record in records
        if record.record_id not in skipped and (action is None or record.action == action)
    ]


# A create whose natural key was taken in the meantime (another import created the same tax, media URL or
# category path after this one was pushed) adopts the existing entity instead of failing.
FIND_TAKEN_KEYS = """
SELECT DISTINCT ON (r.record_id) r.record_id, r.entity_id, e.id
FROM import_records r JOIN {table} e ON {same_key}
WHERE r.record_id = ANY(:ids) AND r.action = 'create' AND e.id <> r.entity_id
  AND NOT EXISTS (SELECT 1 FROM {table} x WHERE x.id = r.entity_id)
"""

ADOPT = """
UPDATE import_records
SET entity_id = :existing_id, action = 'update', payload = CASE WHEN root THEN payload ELSE '{}'::jsonb END
WHERE record_id = :record_id
"""

# Staged payloads write ids as 32 hex digits, so replacing the text of the id is exact.
REPOINT_DEPENDENTS = """
UPDATE import_records d SET payload = replace(d.payload::text, :staged_hex, :existing_hex)::jsonb
FROM import_record_dependencies dep
WHERE dep.depends_on = :record_id AND d.record_id = dep.record_id
"""


async def adopt_existing(session: AsyncSession, ids: Sequence[int], table: str, same_key: str) -> None:
    """Make creates whose natural key now belongs to an entity of ``table`` updates of that entity (a nested
    creation then changes nothing, as nested records never update), and point the records that depend on
    them at the existing id. ``same_key`` joins ``r`` (the staged record) to ``e`` (the entity)."""
    taken = await rows(session, FIND_TAKEN_KEYS.format(table=table, same_key=same_key), ids)
    for record_id, staged_id, existing_id in taken:
        await adopt(session, record_id, staged_id, existing_id)


async def adopt(session: AsyncSession, record_id: int, staged_id: uuid.UUID, existing_id: uuid.UUID) -> None:
    """Make the staged create ``record_id`` an update of ``existing_id``; what depends on it points there."""
    await session.execute(text(ADOPT), {"record_id": record_id, "existing_id": existing_id})
    await session.execute(
        text(REPOINT_DEPENDENTS),
        {"record_id": record_id, "staged_hex": staged_id.hex, "existing_hex": existing_id.hex},
    )
