"""Reading a push body: the size limit, JSON parsing and the top-level shape, before any record is
looked at (422 ``INVALID_RECORDS``, 413 ``PAYLOAD_TOO_LARGE``, 422 ``BATCH_TOO_LARGE``)."""

from collections.abc import Collection
from typing import Any

import orjson
from fastapi import Request

from catalog_import.errors import PayloadTooLarge, Unprocessable


class InvalidRecords(Unprocessable):
    code = "INVALID_RECORDS"


class BatchTooLarge(Unprocessable):
    code = "BATCH_TOO_LARGE"


async def read_json_body(request: Request, max_bytes: int) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"The body is larger than {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"The body is larger than {max_bytes} bytes")
        chunks.append(chunk)
    try:
        return orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError as exc:
        raise InvalidRecords(f"The body is not valid JSON: {exc}") from exc


def collections_of(body: Any, allowed: Collection[str]) -> list[tuple[str, Any]]:
    """The (key, value) pairs of a push body in body order; every key must be one of ``allowed``
    (``extensions`` among them where custom entities may appear)."""
    if not isinstance(body, dict):
        raise InvalidRecords("The body must be a JSON object keyed by entity collection")
    unknown = [key for key in body if key not in allowed]
    if unknown:
        raise InvalidRecords(
            f"Unknown collection {unknown[0]!r}; expected some of: {', '.join(allowed)}",
            details=[{"path": key, "message": "unknown collection"} for key in unknown],
        )
    collections: list[tuple[str, Any]] = []
    for key, value in body.items():
        if key == "extensions":
            if not isinstance(value, dict) or not all(isinstance(v, list) for v in value.values()):
                raise InvalidRecords("extensions must be an object of lists keyed by custom entity name")
        elif not isinstance(value, list):
            raise InvalidRecords(f"{key} must be a list")
        collections.append((key, value))
    return collections


def count_root_records(collections: list[tuple[str, Any]], limit: int) -> int:
    count = sum(
        sum(len(v) for v in value.values()) if key == "extensions" else len(value)
        for key, value in collections
    )
    if count > limit:
        raise BatchTooLarge(f"{count} records in one request; at most {limit} are accepted")
    return count
