"""Opaque keyset cursors: the last item's sort key (an id, a sequence number, or a time and an id),
encoded so that clients pass it back unchanged. A cursor that was not made here is answered with 422
``INVALID_CURSOR``."""

import base64
import uuid
from datetime import datetime
from typing import Any

import orjson

from catalog_import.errors import Unprocessable
from catalog_import.ids import parse_id


class InvalidCursor(Unprocessable):
    code = "INVALID_CURSOR"

    def __init__(self) -> None:
        super().__init__("The cursor is not valid")


def encode_cursor(*key: str | int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(key))).decode().rstrip("=")


def _decode_key(cursor: str, parts: int) -> list[Any]:
    try:
        key = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise InvalidCursor() from exc
    if not isinstance(key, list) or len(key) != parts:
        raise InvalidCursor()
    return key


def _decode(cursor: str) -> Any:
    return _decode_key(cursor, 1)[0]


def id_after(cursor: str | None) -> uuid.UUID | None:
    """The id a cursor continues after; None for the first page."""
    if cursor is None:
        return None
    try:
        return parse_id(_decode(cursor))
    except ValueError as exc:
        raise InvalidCursor() from exc


def number_after(cursor: str | None) -> int | None:
    """The sequence number a cursor continues after; None for the first page."""
    if cursor is None:
        return None
    key = _decode(cursor)
    if not isinstance(key, int) or isinstance(key, bool):
        raise InvalidCursor()
    return key


def time_cursor(time: datetime, entity_id: uuid.UUID) -> str:
    """The cursor of a list in ``(time, id)`` order, after the item at ``time`` with ``entity_id``."""
    return encode_cursor(time.isoformat(), entity_id.hex)


def time_after(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """The ``(time, id)`` a cursor of ``time_cursor`` continues after; None for the first page."""
    if cursor is None:
        return None
    time, entity_id = _decode_key(cursor, 2)
    if not isinstance(time, str):
        raise InvalidCursor()
    try:
        parsed, parsed_id = datetime.fromisoformat(time), parse_id(entity_id)
    except (TypeError, ValueError) as exc:
        raise InvalidCursor() from exc
    if parsed.utcoffset() is None:
        raise InvalidCursor()
    return parsed, parsed_id
