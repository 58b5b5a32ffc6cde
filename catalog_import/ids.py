"""UUIDs as the contract writes them: accepted dashed or as 32 hex digits, answered as 32 lowercase hex."""

import uuid
from typing import Annotated, Any

import uuid_utils.compat
from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema


def new_id() -> uuid.UUID:
    """A new time-ordered id (UUIDv7)."""
    return uuid_utils.compat.uuid7()


def parse_id(value: Any) -> uuid.UUID:
    """Parse a dashed or 32-hex UUID; raise ValueError otherwise."""
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str) or len(value) not in (32, 36):
        raise ValueError("must be a UUID (32 hex digits or the dashed form)")
    return uuid.UUID(value)


def format_id(value: uuid.UUID) -> str:
    return value.hex


HEX_ID_SCHEMA = {
    "type": "string",
    "pattern": "^[0-9a-fA-F]{32}$|^[0-9a-fA-F-]{36}$",
    "example": "018a6b222b5a734d956fb03dda765bf8",
}

Id = Annotated[
    uuid.UUID,
    BeforeValidator(parse_id),
    PlainSerializer(format_id, return_type=str),
    WithJsonSchema(HEX_ID_SCHEMA),
]
"""A UUID field in requests and responses."""
