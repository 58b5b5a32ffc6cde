"""SQL of the catalog reads: one query per kind of row for a whole page of products."""

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_import.models import (
    Category,
    Currency,
    Media,
    Product,
    ProductCategory,
    ProductMedia,
    ProductOption,
    ProductPrice,
    ProductProperty,
    PropertyGroup,
    PropertyOption,
    Tax,
)
from catalog_import.resolvers.category import path_key

S = TypeVar("S", bound=Select[Any])


@dataclass(frozen=True, slots=True)
class ListPage:
    """Which page of a catalog list to read: ``limit`` entities in id order after ``after``; or, with
    ``updated_since``, the entities updated at or after it, in ``(updated_at, id)`` order after
    ``updated_after`` (served by the ``(updated_at, id)`` index of each table)."""

    limit: int = 100
    after: uuid.UUID | None = None
    updated_since: datetime | None = None
    updated_after: tuple[datetime, uuid.UUID] | None = None

    def of(self, statement: S, entity: type[Product] | type[Category] | type[Media]) -> S:
        if self.updated_since is None:
            if self.after is not None:
                statement = statement.where(entity.id > self.after)
            return statement.order_by(entity.id).limit(self.limit)
        statement = statement.where(entity.updated_at >= self.updated_since)
        if self.updated_after is not None:
            statement = statement.where(tuple_(entity.updated_at, entity.id) > tuple_(*self.updated_after))
        return statement.order_by(entity.updated_at, entity.id).limit(self.limit)


class CatalogRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def products(
        self, page: ListPage, *, ids: Sequence[uuid.UUID] | None = None, product_number: str | None = None,
    ) -> Sequence[Product]:  # fmt: skip
        statement = select(Product)
        if ids is not None:
            statement = statement.where(Product.id.in_(ids))
        if product_number is not None:
            statement = statement.where(Product.product_number == product_number)
        return (await self.session.scalars(page.of(statement, Product))).all()

    async def taxes_by_id(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Tax]:
        return {tax.id: tax for tax in await self.session.scalars(select(Tax).where(Tax.id.in_(ids)))}

    async def prices(self, product_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Any]]:
        result = await self.session.execute(
            select(
                ProductPrice.product_id,
                Currency.iso_code,
                ProductPrice.gross,
                ProductPrice.net,
                ProductPrice.linked,
            )
            .join(Currency, Currency.id == ProductPrice.currency_id)
            .where(ProductPrice.product_id.in_(product_ids))
            .order_by(ProductPrice.product_id, Currency.iso_code)
        )
        return group_by_first(result.all())

    async def product_categories(self, product_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Any]]:
        result = await self.session.execute(
            select(ProductCategory.product_id, Category.id, Category.name, Category.path)
            .join(Category, Category.id == ProductCategory.category_id)
            .where(ProductCategory.product_id.in_(product_ids))
            .order_by(ProductCategory.product_id, Category.path_key)
        )
        return group_by_first(result.all())

    async def product_media(self, product_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Any]]:
        result = await self.session.execute(
            select(ProductMedia.product_id, ProductMedia.position, Media)
            .join(Media, Media.id == ProductMedia.media_id)
            .where(ProductMedia.product_id.in_(product_ids))
            .order_by(ProductMedia.product_id, ProductMedia.position, Media.id)
        )
        return group_by_first(result.all())

    async def linked_options(
        self, links: type[ProductProperty] | type[ProductOption], product_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[Any]]:
        """(product id, group name, option name) of the properties or variant options of products."""
        result = await self.session.execute(
            select(links.product_id, PropertyGroup.name, PropertyOption.name)
            .join(PropertyOption, PropertyOption.id == links.option_id)
            .join(PropertyGroup, PropertyGroup.id == PropertyOption.group_id)
            .where(links.product_id.in_(product_ids))
            .order_by(links.product_id, PropertyGroup.name, PropertyOption.name)
        )
        return group_by_first(result.all())

    async def variant_ids(self, product_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
        result = await self.session.execute(
            select(Product.parent_id, Product.id)
            .where(Product.parent_id.in_(product_ids))
            .order_by(Product.id)
        )
        variants: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
        for parent_id, variant_id in result:
            if parent_id is not None:
                variants[parent_id].append(variant_id)
        return variants

    async def categories(
        self, page: ListPage, *, category_id: uuid.UUID | None = None, path: Sequence[str] | None = None,
    ) -> list[tuple[Category, int]]:  # fmt: skip
        product_count = (
            select(func.count())
            .select_from(ProductCategory)
            .where(ProductCategory.category_id == Category.id)
            .scalar_subquery()
        )
        statement = select(Category, product_count)
        if category_id is not None:
            statement = statement.where(Category.id == category_id)
        if path:
            statement = statement.where(Category.path_key == path_key(path))
        result = await self.session.execute(page.of(statement, Category))
        return [(category, count) for category, count in result]

    async def media(
        self, page: ListPage, *, media_id: uuid.UUID | None = None, url: str | None = None,
    ) -> Sequence[Media]:  # fmt: skip
        statement = select(Media)
        if media_id is not None:
            statement = statement.where(Media.id == media_id)
        if url is not None:
            statement = statement.where(Media.source_url == url)
        return (await self.session.scalars(page.of(statement, Media))).all()

    async def taxes(self, *, after: uuid.UUID | None, limit: int) -> Sequence[Tax]:
        statement = select(Tax)
        if after is not None:
            statement = statement.where(Tax.id > after)
        return (await self.session.scalars(statement.order_by(Tax.id).limit(limit))).all()


def group_by_first(rows: Sequence[Any]) -> dict[uuid.UUID, list[Any]]:
    grouped: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[row[0]].append(row)
    return grouped
