"""Request and response bodies of the custom entity endpoints."""

import uuid
from typing import Any, Literal

from pydantic import ConfigDict, Field

from catalog_import.ids import Id
from catalog_import.schemas import ApiModel, Timestamp

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
"""Custom entity names: lowercase, digits and underscores, starting with a letter, at most 63 long."""

ProductRelation = Literal["none", "one", "many"]


class Declaration(ApiModel):
    """``PUT /api/custom-entities/{name}``: the fields of the entity as a JSON Schema (Draft 2020-12) of an
    object, and how its records relate to products."""

    model_config = ConfigDict(extra="forbid")

    fields: dict[str, Any] = Field(
        description="A JSON Schema (Draft 2020-12) of an object: the fields of one record",
        examples=[{"type": "object", "properties": {"years": {"type": "integer"}}, "required": ["years"]}],
    )
    product_relation: ProductRelation = Field(
        description="none: records stand alone; one: a product keeps one record of this entity (a new one "
        "replaces the link); many: a product may be linked to any number"
    )


class DeclarationView(ApiModel):
    name: str
    fields: dict[str, Any]
    product_relation: ProductRelation
    created_at: Timestamp
    updated_at: Timestamp


class RecordView(ApiModel):
    """One record of a custom entity, with the products linked to it."""

    id: Id
    entity: str
    data: dict[str, Any]
    product_ids: list[Id]
    created_at: Timestamp
    updated_at: Timestamp


def record_item(record_id: uuid.UUID, data: dict[str, Any]) -> dict[str, Any]:
    """A record as a product view lists it: its id next to its fields."""
    return {"id": record_id.hex, **data}
