"""Failures as downloads: JSON (a list of the contract's ``Failure`` objects) and CSV (one row per problem
of a failure), written as they are read."""

import csv
import io
from collections.abc import AsyncIterator

import orjson

from catalog_import.imports import schemas

CSV_COLUMNS = [
    "entity",
    "id",
    "path",
    "batch",
    "severity",
    "severityCode",
    "code",
    "detailEntity",
    "detailPath",
    "message",
]
# A cell starting with one of these is taken for a formula by spreadsheet programs.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_line(values: list[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([csv_cell(value) for value in values])
    return buffer.getvalue()


async def failures_csv(failures: AsyncIterator[schemas.Failure]) -> AsyncIterator[str]:
    yield csv_line(list(CSV_COLUMNS))
    async for failure in failures:
        for detail in failure.details:
            yield csv_line(
                [
                    failure.entity,
                    failure.id.hex if failure.id else None,
                    failure.path,
                    failure.batch,
                    detail.severity,
                    detail.severity_code,
                    detail.code,
                    detail.entity,
                    detail.path,
                    detail.message,
                ]
            )


async def failures_json(failures: AsyncIterator[schemas.Failure]) -> AsyncIterator[bytes]:
    yield b"["
    first = True
    async for failure in failures:
        yield (b"\n" if first else b",\n") + orjson.dumps(failure.model_dump(mode="json"))
        first = False
    yield b"]\n" if first else b"\n]\n"
