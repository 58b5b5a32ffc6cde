"""What the writers share: the batch they get, how they run SQL over it, and how database errors of a
single record become its problem."""

import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, TextClause, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_import.problems import Problem, error


@dataclass(frozen=True, slots=True)
class ClaimedRecord:
    record_id: int
    entity: str
    entity_id: uuid.UUID
    action: str
    path: str
    root: bool


Problems = dict[int, list[Problem]]
Writer = Callable[[AsyncSession, Sequence[ClaimedRecord]], Awaitable[Problems]]


def batch_sql(statement: str) -> TextClause:
    """A statement over the batch: ``:ids`` is the array of the batch's staged record ids."""
    return text(statement).bindparams(bindparam("ids", type_=ARRAY(BigInteger)))


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
    constraint = getattr(original, "constraint_name", None) or getattr(
        getattr(original, "__cause__", None), "constraint_name", None
    )
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
