"""Reading a push body: the size limit, a deadline of its own, at most a few bodies per integration at once,
JSON parsing and the top-level shape, before any record is looked at (413 ``PAYLOAD_TOO_LARGE``, 408
``BODY_TIMEOUT``, 422 ``INVALID_RECORDS``, 422 ``BATCH_TOO_LARGE``)."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import Request

from catalog_import.errors import ApiError, PayloadTooLarge, Unprocessable
from catalog_import.imports.variants import MAX_VARIANTS, pushed_variant_count


class InvalidRecords(Unprocessable):
    code = "INVALID_RECORDS"


class BatchTooLarge(Unprocessable):
    code = "BATCH_TOO_LARGE"


@dataclass(frozen=True, slots=True)
class PushLimits:
    root_records: int
    """Root records per push (``MAX_RECORDS_PER_PUSH``)."""
    staged_records: int
    """Records per push once variants and nested records are taken out (``MAX_STAGED_RECORDS_PER_PUSH``)."""


class BodyTimeout(ApiError):
    status_code = 408
    code = "BODY_TIMEOUT"


class PushesPerIntegration:
    """At most ``limit`` pushes of one integration at once in this process, from the first byte of their
    body to their answer: a client whose bodies trickle in holds its own integration's turns, never
    another's. Integrations with no push in flight are forgotten."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._turns: dict[uuid.UUID, tuple[asyncio.Semaphore, int]] = {}

    @asynccontextmanager
    async def turn(self, integration_id: uuid.UUID) -> AsyncIterator[None]:
        semaphore, users = self._turns.get(integration_id, (asyncio.Semaphore(self.limit), 0))
        self._turns[integration_id] = (semaphore, users + 1)
        try:
            async with semaphore:
                yield
        finally:
            semaphore, users = self._turns[integration_id]
            if users == 1:
                del self._turns[integration_id]
            else:
                self._turns[integration_id] = (semaphore, users - 1)


def refuse_declared_size(request: Request, max_bytes: int) -> None:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"The body is larger than {max_bytes} bytes")


async def read_body(request: Request, max_bytes: int, timeout_seconds: float) -> bytes:
    """The whole body, if it is at most ``max_bytes`` and has arrived within ``timeout_seconds``."""
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_seconds):
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(f"The body is larger than {max_bytes} bytes")
                chunks.append(chunk)
    except TimeoutError as exc:
        raise BodyTimeout(f"The body did not arrive within {timeout_seconds:g} s") from exc
    return b"".join(chunks)


def parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
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


def count_staged_records(collections: list[tuple[str, Any]], limit: int) -> int:
    """How many records a push stages at most once its root records are taken apart: each root record, and
    for each product its generated variants (a configurator multiplies: 25 sizes in 40 colours are 1,000
    variants), its nested media, tax and custom records. Read off the body as it was pushed, before
    anything is validated or looked up, so that a small body cannot make the server build hundreds of
    thousands of records; over ``limit`` the push is refused whole (422 ``BATCH_TOO_LARGE``)."""
    count = 0
    for key, value in collections:
        if key == "extensions":
            count += sum(len(records) for records in value.values())
            continue
        count += len(value)
        if key == "products":
            count += sum(nested_records(product) for product in value if isinstance(product, dict))
    if count > limit:
        raise BatchTooLarge(
            f"The push would stage {count} records, variants and nested records included; at most {limit} "
            "are accepted per push: send fewer products in each"
        )
    return count


def nested_records(product: dict[str, Any]) -> int:
    """The records a pushed product brings besides itself (an upper bound)."""
    variants = pushed_variant_count(product.get("variants"))
    overrides = product.get("variantOverrides")
    tax = product.get("tax")
    count = (variants if variants <= MAX_VARIANTS else 0) + list_length(product.get("media"))
    count += 1 if isinstance(tax, dict) and "taxRate" in tax else 0
    if isinstance(overrides, list):
        count += sum(list_length(o.get("media")) for o in overrides if isinstance(o, dict))
    extensions = product.get("extensions")
    if isinstance(extensions, dict):
        count += sum(
            list_length(records) if isinstance(records, list) else 1 for records in extensions.values()
        )
    return count


def list_length(value: Any) -> int:
    return len(value) if isinstance(value, list) else 0
