"""Catalog read endpoints (CONTRACT §7)."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import AwareDatetime, StringConstraints

from catalog_import.auth.dependencies import IntegrationId
from catalog_import.catalog import schemas, service
from catalog_import.db import Session
from catalog_import.schemas import NO_NUL, ErrorResponse, Page

router = APIRouter(prefix="/api/catalog", tags=["catalog"])

Limit = Annotated[int, Query(ge=1, le=500)]
# What a lookup is compared with: the catalog's text, which holds no NUL.
Key = Annotated[str, StringConstraints(pattern=NO_NUL)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
}
LISTED: dict[int | str, dict[str, Any]] = {401: {"model": ErrorResponse}, 422: {"model": ErrorResponse}}


def listing(
    limit: Limit = 100,
    cursor: str | None = None,
    updated_since: Annotated[
        AwareDatetime | None,
        Query(
            alias="updatedSince",
            description="Only what was updated at or after this time (ISO 8601 with its offset), listed in "
            "`(updatedAt, id)` order: what changed since a sync. To read what one import changed, pass its "
            "`commitTime`.",
        ),
    ] = None,
) -> service.Listing:
    return service.Listing(limit, cursor, updated_since)


Listed = Annotated[service.Listing, Depends(listing)]


@router.get("/products/{product_id}", operation_id="get_product", responses=NOT_FOUND)
async def get_product(
    product_id: Annotated[uuid.UUID, Path()], session: Session, _: IntegrationId
) -> schemas.ProductView:
    return await service.get_product(session, product_id)


@router.get("/products", operation_id="list_products", responses=LISTED)
async def list_products(
    session: Session,
    _: IntegrationId,
    listed: Listed,
    product_number: Annotated[Key | None, Query(alias="productNumber")] = None,
) -> Page[schemas.ProductView]:
    return await service.list_products(session, product_number, listed)


@router.get("/categories/{category_id}", operation_id="get_category", responses=NOT_FOUND)
async def get_category(
    category_id: Annotated[uuid.UUID, Path()], session: Session, _: IntegrationId
) -> schemas.CategoryView:
    return await service.get_category(session, category_id)


@router.get("/categories", operation_id="list_categories", responses=LISTED)
async def list_categories(
    session: Session,
    _: IntegrationId,
    listed: Listed,
    path: Annotated[
        list[Key] | None, Query(description="The category's path, one name per parameter")
    ] = None,
) -> Page[schemas.CategoryView]:
    return await service.list_categories(session, path, listed)


@router.get("/media/{media_id}", operation_id="get_media", responses=NOT_FOUND)
async def get_media(
    media_id: Annotated[uuid.UUID, Path()], session: Session, _: IntegrationId
) -> schemas.MediaView:
    return await service.get_media(session, media_id)


@router.get("/media", operation_id="list_media", responses=LISTED)
async def list_media(
    session: Session,
    _: IntegrationId,
    listed: Listed,
    url: Annotated[Key | None, Query(description="Media imported from this source URL")] = None,
) -> Page[schemas.MediaView]:
    return await service.list_media(session, url, listed)


@router.get("/taxes", operation_id="list_taxes", responses=LISTED)
async def list_taxes(
    session: Session, _: IntegrationId, limit: Limit = 100, cursor: str | None = None
) -> Page[schemas.TaxView]:
    return await service.list_taxes(session, cursor, limit)
