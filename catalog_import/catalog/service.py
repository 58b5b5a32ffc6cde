"""Assembling catalog views from the rows of the catalog."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession

from catalog_import.catalog import schemas
from catalog_import.catalog.repository import CatalogRepository, ListPage
from catalog_import.custom_entities.repository import CustomEntityRepository
from catalog_import.custom_entities.schemas import record_item
from catalog_import.errors import NotFound
from catalog_import.models import Media, Product, ProductOption, ProductProperty
from catalog_import.pagination import encode_cursor, id_after, time_after, time_cursor
from catalog_import.schemas import Page


class Changed(Protocol):
    """An entity of a catalog list: what its cursor is made of."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def updated_at(self) -> datetime: ...


def media_view(media: Media) -> schemas.MediaView:
    return schemas.MediaView(
        id=media.id,
        # Files are served once they have been downloaded; until then only the source URL is known.
        url=f"/media/{media.id.hex}/{quote(media.filename)}" if media.sha256 and media.filename else None,
        source_url=media.source_url,
        title=media.title,
        alt=media.alt,
        filename=media.filename,
        mime_type=media.mime_type,
        size=media.size,
        sha256=media.sha256,
        folder=schemas.FolderView(id=media.folder.id, path=media.folder.path) if media.folder else None,
    )


def extension_views(
    linked: Sequence[tuple[str, uuid.UUID, dict[str, Any]]],
) -> dict[str, list[dict[str, Any]]]:
    """A product's custom entity records by entity name, each as its id next to its fields."""
    views: dict[str, list[dict[str, Any]]] = {}
    for name, record_id, data in linked:
        views.setdefault(name, []).append(record_item(record_id, data))
    return views


async def product_views(session: AsyncSession, products: Sequence[Product]) -> list[schemas.ProductView]:
    repository = CatalogRepository(session)
    ids = [product.id for product in products]
    taxes = await repository.taxes_by_id(list({product.tax_id for product in products}))
    prices = await repository.prices(ids)
    categories = await repository.product_categories(ids)
    media = await repository.product_media(ids)
    variants = await repository.variant_ids(ids)
    properties = await repository.linked_options(ProductProperty, ids)
    options = await repository.linked_options(ProductOption, ids)
    extensions = await CustomEntityRepository(session).product_records(ids)
    views = []
    for product in products:
        tax = taxes[product.tax_id]
        views.append(
            schemas.ProductView(
                id=product.id,
                product_number=product.product_number,
                name=product.name,
                description=product.description,
                active=product.active,
                stock=product.stock,
                parent_id=product.parent_id,
                custom_fields=product.custom_fields,
                tax=schemas.TaxView(id=tax.id, name=tax.name, tax_rate=tax.tax_rate),
                prices=[
                    schemas.PriceView(currency=code, gross=gross, net=net, linked=linked)
                    for _id, code, gross, net, linked in prices.get(product.id, [])
                ],
                categories=[
                    schemas.CategoryLink(id=category_id, name=name, path=path)
                    for _id, category_id, name, path in categories.get(product.id, [])
                ],
                media=[
                    schemas.ProductMediaView(
                        **media_view(item).model_dump(exclude={"folder"}), position=position
                    )
                    for _id, position, item in media.get(product.id, [])
                ],
                properties=[
                    schemas.OptionView(group=group, option=option)
                    for _id, group, option in properties.get(product.id, [])
                ],
                options=[
                    schemas.OptionView(group=group, option=option)
                    for _id, group, option in options.get(product.id, [])
                ],
                variant_ids=variants.get(product.id, []),
                extensions=extension_views(extensions.get(product.id, [])),
                created_at=product.created_at,
                updated_at=product.updated_at,
            )
        )
    return views


ONE = ListPage(limit=1)


@dataclass(frozen=True, slots=True)
class Listing:
    """How a catalog list is asked for: a page of ``limit`` from ``cursor``, in id order, or with
    ``updated_since`` in the order the entities changed (CONTRACT §9.6)."""

    limit: int
    cursor: str | None = None
    updated_since: datetime | None = None

    def page(self) -> ListPage:
        """One entity more than the page holds: whether there is a next page."""
        if self.updated_since is None:
            return ListPage(self.limit + 1, after=id_after(self.cursor))
        return ListPage(
            self.limit + 1, updated_since=self.updated_since, updated_after=time_after(self.cursor)
        )

    def next_cursor(self, found: Sequence[Changed]) -> str | None:
        """The cursor after the page's last entity, when ``found`` (one more than the page) holds more."""
        if len(found) <= self.limit:
            return None
        last = found[self.limit - 1]
        if self.updated_since is None:
            return encode_cursor(last.id.hex)
        return time_cursor(last.updated_at, last.id)


async def get_product(session: AsyncSession, product_id: uuid.UUID) -> schemas.ProductView:
    products = await CatalogRepository(session).products(ONE, ids=[product_id])
    if not products:
        raise NotFound("Product not found", code="PRODUCT_NOT_FOUND")
    return (await product_views(session, products))[0]


async def list_products(
    session: AsyncSession, product_number: str | None, listing: Listing
) -> Page[schemas.ProductView]:
    products = await CatalogRepository(session).products(listing.page(), product_number=product_number)
    return Page[schemas.ProductView](
        items=await product_views(session, list(products[: listing.limit])),
        next_cursor=listing.next_cursor(products),
    )


def category_view(category_and_count: tuple[object, int]) -> schemas.CategoryView:
    category, count = category_and_count
    return schemas.CategoryView.model_validate(
        {
            **{k: getattr(category, k) for k in ("id", "name", "parent_id", "path", "active")},
            "product_count": count,
        }
    )


async def get_category(session: AsyncSession, category_id: uuid.UUID) -> schemas.CategoryView:
    found = await CatalogRepository(session).categories(ONE, category_id=category_id)
    if not found:
        raise NotFound("Category not found", code="CATEGORY_NOT_FOUND")
    return category_view(found[0])


async def list_categories(
    session: AsyncSession, path: list[str] | None, listing: Listing
) -> Page[schemas.CategoryView]:
    found = await CatalogRepository(session).categories(listing.page(), path=path)
    return Page[schemas.CategoryView](
        items=[category_view(item) for item in found[: listing.limit]],
        next_cursor=listing.next_cursor([category for category, _ in found]),
    )


async def get_media(session: AsyncSession, media_id: uuid.UUID) -> schemas.MediaView:
    found = await CatalogRepository(session).media(ONE, media_id=media_id)
    if not found:
        raise NotFound("Media not found", code="MEDIA_NOT_FOUND")
    return media_view(found[0])


async def list_media(session: AsyncSession, url: str | None, listing: Listing) -> Page[schemas.MediaView]:
    found = await CatalogRepository(session).media(listing.page(), url=url)
    return Page[schemas.MediaView](
        items=[media_view(item) for item in found[: listing.limit]],
        next_cursor=listing.next_cursor(found),
    )


async def list_taxes(session: AsyncSession, cursor: str | None, limit: int) -> Page[schemas.TaxView]:
    found = await CatalogRepository(session).taxes(after=id_after(cursor), limit=limit + 1)
    page = list(found[:limit])
    return Page[schemas.TaxView](
        items=[schemas.TaxView(id=t.id, name=t.name, tax_rate=t.tax_rate) for t in page],
        next_cursor=encode_cursor(page[-1].id.hex) if len(found) > limit else None,
    )
