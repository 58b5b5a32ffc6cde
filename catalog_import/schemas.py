"""Response building blocks shared by every package: camelCase models and cursor pages."""

from datetime import datetime
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer
from pydantic.alias_generators import to_camel

T = TypeVar("T")

NO_NUL = r"^[^\x00]*$"
"""The pattern of strings that reach PostgreSQL, whose text cannot hold NUL (U+0000)."""

Timestamp = Annotated[datetime, PlainSerializer(lambda value: value.isoformat(), return_type=str)]
"""ISO 8601 with the UTC offset written out (``+00:00``)."""


class ApiModel(BaseModel):
    """camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True)


class Page(ApiModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class ErrorResponse(BaseModel):
    """The envelope of every error response."""

    code: str = Field(examples=["IMPORT_NOT_FOUND"])
    message: str
    details: list[dict[str, object]] | None = None
