"""Schema building blocks shared by every package: camelCase models, cursor pages, and request bodies that
the OpenAPI document names as components."""

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer
from pydantic.alias_generators import to_camel
from pydantic.json_schema import models_json_schema

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


COMPONENT_REF = "#/components/schemas/{model}"


def json_body(model: type[BaseModel], *, description: str | None = None) -> dict[str, Any]:
    """An operation's request body (``openapi_extra``) that is ``model``, a named component. For the routes
    that read their body themselves (a push validates each record on its own); the component itself comes
    from ``component_schemas``."""
    body: dict[str, Any] = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": COMPONENT_REF.format(model=model.__name__)}}},
    }
    if description is not None:
        body["description"] = description
    return {"requestBody": body}


def component_schemas(models: Iterable[type[BaseModel]]) -> dict[str, Any]:
    """The JSON Schemas of ``models`` and of every model they use, keyed by model name, referring to each
    other as OpenAPI components."""
    _, top = models_json_schema(
        [(model, "validation") for model in models], by_alias=True, ref_template=COMPONENT_REF
    )
    definitions: dict[str, Any] = top.get("$defs", {})
    return {name: without_defaults(schema) for name, schema in definitions.items()}


def without_defaults(schema: dict[str, Any]) -> dict[str, Any]:
    """A request schema whose properties say their default in words rather than with ``default``: a field
    left out of a request is one the server fills in (or leaves as it is), while generators take a property
    with a default for one that is always there, and make it required in the types they write."""
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return schema
    described = {}
    for name, field in properties.items():
        field = dict(field)
        if "default" in field:
            default = field.pop("default")
            if default is not None:
                note = f"Default: {json.dumps(default)}."
                field["description"] = f"{field['description']} {note}" if "description" in field else note
        described[name] = field
    return {**schema, "properties": described}
