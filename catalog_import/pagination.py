"""Opaque keyset cursors: the last item's sort key, encoded so that clients pass it back unchanged."""

import base64
from typing import Any

import orjson

from catalog_import.errors import Unprocessable


def encode_cursor(*key: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(key))).decode().rstrip("=")


def decode_cursor(cursor: str | None, arity: int) -> list[Any] | None:
    if cursor is None:
        return None
    try:
        key = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise Unprocessable("The cursor is not valid", code="INVALID_CURSOR") from exc
    if not isinstance(key, list) or len(key) != arity:
        raise Unprocessable("The cursor is not valid", code="INVALID_CURSOR")
    return key
