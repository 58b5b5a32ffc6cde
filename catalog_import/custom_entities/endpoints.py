"""Custom entity endpoints (CONTRACT §3.5, §7): declarations, and reading one record from the catalog."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path

from catalog_import.auth.dependencies import IntegrationId
from catalog_import.custom_entities import schemas, service
from catalog_import.db import Session
from catalog_import.schemas import ErrorResponse

router = APIRouter(prefix="/api/custom-entities", tags=["custom entities"])
catalog_router = APIRouter(prefix="/api/catalog/custom-entities", tags=["catalog"])

Name = Annotated[str, Path(pattern=schemas.NAME_PATTERN, description="The custom entity's name")]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
}


@router.put("/{name}", operation_id="declare_custom_entity", responses=ERRORS)
async def declare_custom_entity(
    name: Name, declaration: schemas.Declaration, session: Session, _: IntegrationId
) -> schemas.DeclarationView:
    """Declare a custom entity, or replace its declaration. Declarations are shared by every integration."""
    return await service.declare(session, name, declaration)


@router.get("/{name}", operation_id="get_custom_entity", responses=ERRORS)
async def get_custom_entity(name: Name, session: Session, _: IntegrationId) -> schemas.DeclarationView:
    return await service.get_declaration(session, name)


@catalog_router.get("/{name}/{record_id}", operation_id="get_custom_entity_record", responses=ERRORS)
async def get_custom_entity_record(
    name: Name, record_id: Annotated[uuid.UUID, Path()], session: Session, _: IntegrationId
) -> schemas.RecordView:
    return await service.get_record(session, name, record_id)
