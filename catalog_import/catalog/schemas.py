"""Catalog views (CONTRACT §7)."""

from decimal import Decimal
from typing import Annotated, Any

from pydantic import PlainSerializer

from catalog_import.ids import Id
from catalog_import.schemas import ApiModel, Timestamp


def decimal_number(value: Decimal) -> int | float:
    """Amounts are answered as JSON numbers: 15 rather than "15.0000"."""
    return int(value) if value == value.to_integral_value() else float(value)


Number = Annotated[Decimal, PlainSerializer(decimal_number, return_type=int | float)]


class TaxView(ApiModel):
    id: Id
    name: str
    tax_rate: Number


class PriceView(ApiModel):
    currency: str
    gross: Number
    net: Number
    linked: bool


class CategoryLink(ApiModel):
    id: Id
    name: str
    path: list[str]


class FolderView(ApiModel):
    id: Id
    path: list[str]


class MediaFile(ApiModel):
    """A media as a product lists it (CONTRACT §7)."""

    id: Id
    url: str | None
    source_url: str | None
    title: str | None
    alt: str | None
    filename: str | None
    mime_type: str | None
    size: int | None
    sha256: str | None


class MediaView(MediaFile):
    """A media read on its own, with the folder it is in."""

    folder: FolderView | None


class ProductMediaView(MediaFile):
    position: int


class OptionView(ApiModel):
    group: str
    option: str


class ProductView(ApiModel):
    id: Id
    product_number: str
    name: str
    description: str | None
    active: bool
    stock: int
    parent_id: Id | None
    custom_fields: dict[str, Any] | None
    tax: TaxView
    prices: list[PriceView]
    categories: list[CategoryLink]
    media: list[ProductMediaView]
    properties: list[OptionView]
    options: list[OptionView]
    variant_ids: list[Id]
    extensions: dict[str, list[dict[str, Any]]]
    created_at: Timestamp
    updated_at: Timestamp


class CategoryView(ApiModel):
    id: Id
    name: str
    parent_id: Id | None
    path: list[str]
    active: bool
    product_count: int
