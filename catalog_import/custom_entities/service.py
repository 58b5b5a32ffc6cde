"""Declaring custom entities and checking their records against the declared JSON Schema. Services never
commit; the request boundary does."""

import uuid
from collections.abc import Iterator
from typing import Any, cast

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_import.custom_entities import schemas
from catalog_import.custom_entities.repository import CustomEntityRepository
from catalog_import.errors import NotFound, Unprocessable
from catalog_import.json_checks import plain_json
from catalog_import.models import CustomEntityType


class InvalidSchema(Unprocessable):
    code = "INVALID_SCHEMA"


class CustomEntityUnknown(NotFound):
    code = "CUSTOM_ENTITY_UNKNOWN"

    def __init__(self, name: str) -> None:
        super().__init__(f"Custom entity {name!r} is not declared")


RESERVED_FIELDS = ("id",)
"""Field names a record cannot have: ``id`` names the record itself."""


def check_schema(fields: dict[str, Any]) -> None:
    """A declared schema must be a valid Draft 2020-12 schema of an object, without reserved fields."""
    try:
        plain_json(fields)
    except ValueError as exc:
        raise InvalidSchema(f"fields {exc}", details=[{"path": "fields", "message": str(exc)}]) from exc
    try:
        Draft202012Validator.check_schema(fields)
    except SchemaError as exc:
        where = ".".join(["fields", *(str(part) for part in exc.absolute_path)])
        raise InvalidSchema(
            f"fields is not a valid JSON Schema: {exc.message}",
            details=[{"path": where, "message": exc.message}],
        ) from exc
    for where, ref in references(fields, "fields"):
        if not resolves_locally(fields, ref):
            message = f"The reference {ref!r} does not point into this schema (only local references)"
            raise InvalidSchema(message, details=[{"path": where, "message": message}])
    if fields.get("type") != "object":
        message = 'fields must be the schema of an object ("type": "object")'
        raise InvalidSchema(message, details=[{"path": "fields.type", "message": message}])
    properties = fields.get("properties")
    for name in RESERVED_FIELDS:
        if isinstance(properties, dict) and name in properties:
            message = f"{name!r} is reserved for the record's id"
            raise InvalidSchema(message, details=[{"path": f"fields.properties.{name}", "message": message}])


def references(node: Any, path: str) -> Iterator[tuple[str, str]]:
    """(path, reference) of every ``$ref`` and ``$dynamicRef`` in a schema, walked without recursion."""
    pending = [(node, path)]
    while pending:
        item, where = pending.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key in ("$ref", "$dynamicRef") and isinstance(value, str):
                    yield f"{where}.{key}", value
                else:
                    pending.append((value, f"{where}.{key}"))
        elif isinstance(item, list):
            pending.extend((value, f"{where}.{index}") for index, value in enumerate(item))


def resolves_locally(schema: dict[str, Any], ref: str) -> bool:
    """Whether ``ref`` is a fragment (``#``, ``#/pointer`` or ``#anchor``) naming a part of ``schema``;
    nothing is ever fetched from elsewhere."""
    if not ref.startswith("#"):
        return False
    resolver = Registry().with_resource(LOCAL_URI, DRAFT202012.create_resource(schema)).resolver(LOCAL_URI)
    try:
        resolver.lookup(LOCAL_URI + ref)
    except Unresolvable:
        return False
    return True


LOCAL_URI = "urn:catalog-import:fields"


def declaration_view(declared: CustomEntityType) -> schemas.DeclarationView:
    return schemas.DeclarationView(
        name=declared.name,
        fields=declared.fields_schema,
        product_relation=cast(schemas.ProductRelation, declared.product_relation),
        created_at=declared.created_at,
        updated_at=declared.updated_at,
    )


async def declare(
    session: AsyncSession, name: str, declaration: schemas.Declaration
) -> schemas.DeclarationView:
    """Declare a custom entity, or replace its declaration. Records already written are not checked again
    against a replaced schema."""
    check_schema(declaration.fields)
    declared = await CustomEntityRepository(session).declare(
        name, declaration.fields, declaration.product_relation
    )
    return declaration_view(declared)


async def get_declaration(session: AsyncSession, name: str) -> schemas.DeclarationView:
    declared = await CustomEntityRepository(session).declaration(name)
    if declared is None:
        raise CustomEntityUnknown(name)
    return declaration_view(declared)


async def get_record(session: AsyncSession, name: str, record_id: uuid.UUID) -> schemas.RecordView:
    repository = CustomEntityRepository(session)
    record = await repository.record(name, record_id)
    if record is None:
        raise NotFound("Custom entity record not found", code="CUSTOM_ENTITY_NOT_FOUND")
    return schemas.RecordView(
        id=record.id,
        entity=record.type_name,
        data=record.data,
        product_ids=await repository.linked_products(record.id),
        created_at=record.created_at,
        updated_at=record.updated_at,
    )
