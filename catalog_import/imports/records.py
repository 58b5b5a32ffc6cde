"""The records a push may carry, one pydantic model per entity and per reference form.

Every model forbids unknown fields. Which fields a record carries matters (an update changes only those),
so services read ``model_fields_set`` rather than defaults."""

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    model_validator,
)
from pydantic_core import PydanticCustomError

from catalog_import.addresses import check_fetch_url
from catalog_import.ids import Id

CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def no_control_characters(value: str) -> str:
    if CONTROL_CHARACTERS.search(value):
        raise ValueError("must not contain control characters")
    return value


def no_nul(value: str) -> str:
    """PostgreSQL text and jsonb cannot hold NUL (U+0000)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


MAX_JSON_DEPTH = 32
"""Deepest nesting of objects and lists accepted in free-form JSON fields (``customFields``)."""


def plain_json(value: Any) -> Any:
    """A free-form JSON value nested at most ``MAX_JSON_DEPTH`` deep whose strings, keys included, hold no
    NUL (see ``no_nul``); walked without recursion."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            no_nul(item)
        elif isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise ValueError(f"must not be nested more than {MAX_JSON_DEPTH} levels deep")
            children = [*item, *item.values()] if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    return value


def integer_or_numeric_string(value: Any) -> Any:
    """Stock may come as ``"100"``; accept digit strings, and nothing fractional."""
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    if isinstance(value, bool):
        raise ValueError("must be an integer")
    return value


Name = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(no_control_characters)]
Text = Annotated[str, Field(max_length=65_535), AfterValidator(no_nul)]
Url = Annotated[
    str,
    Field(min_length=1, max_length=2048, pattern=r"^[A-Za-z][A-Za-z0-9+.-]*://"),
    AfterValidator(no_nul),
]


def fetchable_url(value: str) -> str:
    """A media's source URL must be one the workers can fetch (``check_fetch_url``): refused at push rather
    than failing at commit. It is kept as it was written, being the media's identity."""
    try:
        check_fetch_url(value)
    except ValueError as exc:
        raise PydanticCustomError("url_not_fetchable", "The URL {reason}", {"reason": str(exc)}) from exc
    return value


SourceUrl = Annotated[Url, AfterValidator(fetchable_url)]
"""The URL a media is downloaded from; URLs that only name a media (deletes, unassigns) stay ``Url``."""
Stock = Annotated[int, BeforeValidator(integer_or_numeric_string), Field(ge=-(2**31), le=2**31 - 1)]
Money = Annotated[
    Decimal, Field(ge=0, le=Decimal("1e15"), max_digits=20, decimal_places=4, allow_inf_nan=False)
]
TaxRate = Annotated[Decimal, Field(ge=0, le=100, max_digits=10, decimal_places=4, allow_inf_nan=False)]
CategoryPath = Annotated[list[Name], Field(min_length=1, max_length=32)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=False)


class IdRef(Strict):
    id: Id


class TaxRef(Strict):
    """``{"id"}``, ``{"name"}``, or ``{"name", "taxRate"}`` to create the tax when it does not exist."""

    id: Id | None = None
    name: Name | None = None
    tax_rate: TaxRate | None = Field(default=None, alias="taxRate")

    @model_validator(mode="after")
    def needs_id_or_name(self) -> "TaxRef":
        if self.id is None and self.name is None:
            raise ValueError("a tax reference needs an id or a name")
        return self


class CurrencyIdRef(Strict):
    id: Id


CurrencyRef = Annotated[str, Field(pattern=r"^[A-Za-z]{3}$")] | CurrencyIdRef


class Price(Strict):
    currency: CurrencyRef
    gross: Money
    net: Money
    linked: StrictBool = True


class CategoryRef(Strict):
    """``{"id"}`` or ``{"path": ["Home", "Shoes"]}``."""

    id: Id | None = None
    path: CategoryPath | None = None

    @model_validator(mode="after")
    def needs_id_or_path(self) -> "CategoryRef":
        if (self.id is None) == (self.path is None):
            raise ValueError("a category reference needs either an id or a path")
        return self


class ProductRef(Strict):
    """``{"id"}`` or ``{"productNumber"}``."""

    id: Id | None = None
    product_number: Name | None = Field(default=None, alias="productNumber")

    @model_validator(mode="after")
    def needs_id_or_number(self) -> "ProductRef":
        if self.id is None and self.product_number is None:
            raise ValueError("a product reference needs an id or a productNumber")
        return self


class FolderRef(Strict):
    """``{"id"}`` of an existing folder, or ``{"path": ["Products", "Shoes"]}``, created when missing."""

    id: Id | None = None
    path: CategoryPath | None = None

    @model_validator(mode="after")
    def needs_id_or_path(self) -> "FolderRef":
        if (self.id is None) == (self.path is None):
            raise ValueError("a folder reference needs either an id or a path")
        return self


class MediaFields(Strict):
    url: SourceUrl | None = None
    title: Text | None = None
    alt: Text | None = None
    filename: Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[^/\\\x00-\x1f]+$")] | None = None
    folder: FolderRef | None = None


class ProductMediaRef(MediaFields):
    """In a product: ``{"id"}`` assigns an existing media; an object with ``url`` creates or reuses one."""

    id: Id | None = None

    @model_validator(mode="after")
    def needs_id_or_url(self) -> "ProductMediaRef":
        if self.id is None and self.url is None:
            raise ValueError("a media reference needs an id or a url")
        return self


class TaxRecord(Strict):
    id: Id | None = None
    name: Name | None = None
    tax_rate: TaxRate | None = Field(default=None, alias="taxRate")


class CategoryRecord(Strict):
    id: Id | None = None
    name: Name | None = None
    parent: CategoryPath | CategoryRef | None = None
    active: StrictBool | None = None
    description: Text | None = None
    products: Annotated[list[ProductRef], Field(max_length=10_000)] | None = None


class MediaRecord(MediaFields):
    id: Id | None = None


class OptionRef(Strict):
    """``{"group": "Size", "option": "S"}``: a property group and one of its options, by name."""

    group: Name
    option: Name


class VariantOption(Strict):
    """One value of the configurator a product's variants are generated from: ``{"property", "value"}``."""

    property: Name
    value: Name


class VariantOverride(Strict):
    """What sets one generated variant apart beyond its options: its number, stock, prices or media."""

    options: Annotated[list[OptionRef], Field(min_length=1, max_length=50)]
    product_number: Name | None = Field(default=None, alias="productNumber")
    stock: Stock | None = None
    prices: Annotated[list[Price], Field(max_length=200)] | None = None
    media: Annotated[list[ProductMediaRef], Field(max_length=1000)] | None = None


class ProductRecord(Strict):
    id: Id | None = None
    product_number: Name | None = Field(default=None, alias="productNumber")
    name: Annotated[str, Field(min_length=1, max_length=255), AfterValidator(no_nul)] | None = None
    description: Text | None = None
    active: StrictBool | None = None
    stock: Stock | None = None
    tax: TaxRef | None = None
    prices: Annotated[list[Price], Field(max_length=200)] | None = None
    categories: Annotated[list[CategoryRef], Field(max_length=1000)] | None = None
    media: Annotated[list[ProductMediaRef], Field(max_length=1000)] | None = None
    custom_fields: Annotated[dict[str, Any], AfterValidator(plain_json)] | None = Field(
        default=None, alias="customFields"
    )
    properties: Annotated[list[OptionRef], Field(max_length=1000)] | None = None
    # A variant managed by the client: its parent product and the options that set it apart.
    parent: ProductRef | None = None
    options: Annotated[list[OptionRef], Field(min_length=1, max_length=50)] | None = None
    # A configurator: one variant is generated per combination of the values of its properties.
    variants: Annotated[list[VariantOption], Field(min_length=1, max_length=500)] | None = None
    variant_overrides: Annotated[list[VariantOverride], Field(max_length=1000)] | None = Field(
        default=None, alias="variantOverrides"
    )
    # Custom entity records to create (or name by id) and link: one object or a list per entity name.
    extensions: dict[str, dict[str, Any] | list[dict[str, Any]]] | None = None


class RecordBatch(Strict):
    """The body of ``POST /api/import/{id}/record`` (documented shape; the endpoint checks each record
    on its own so that one bad record does not reject the others)."""

    taxes: list[TaxRecord] | None = None
    categories: list[CategoryRecord] | None = None
    media: list[MediaRecord] | None = None
    products: list[ProductRecord] | None = None
    extensions: dict[str, list[dict[str, Any]]] | None = None


# Delete and unassign bodies --------------------------------------------------------------------------


class ProductKey(ProductRef):
    pass


class CategoryKey(CategoryRef):
    pass


class MediaKey(Strict):
    id: Id | None = None
    url: Url | None = None

    @model_validator(mode="after")
    def needs_id_or_url(self) -> "MediaKey":
        if self.id is None and self.url is None:
            raise ValueError("a media needs an id or a url")
        return self


class TaxKey(Strict):
    id: Id | None = None
    name: Name | None = None

    @model_validator(mode="after")
    def needs_id_or_name(self) -> "TaxKey":
        if self.id is None and self.name is None:
            raise ValueError("a tax needs an id or a name")
        return self


class DeleteBatch(Strict):
    """The body of ``POST /api/import/{id}/record/delete``: ids, or objects naming the identity."""

    products: list[Id | ProductKey] | None = None
    categories: list[Id | CategoryKey] | None = None
    media: list[Id | MediaKey] | None = None
    taxes: list[Id | TaxKey] | None = None
    extensions: dict[str, list[Any]] | None = None


class MediaUnassignRef(Strict):
    id: Id | None = None
    filename: Annotated[str, AfterValidator(no_nul)] | None = None
    url: Url | None = None

    @model_validator(mode="after")
    def needs_one_key(self) -> "MediaUnassignRef":
        if sum(v is not None for v in (self.id, self.filename, self.url)) != 1:
            raise ValueError("name the media by exactly one of id, filename or url")
        return self


class ProductUnassign(ProductRef):
    media: list[MediaUnassignRef] | None = None
    categories: list[CategoryRef] | None = None
    properties: list[OptionRef] | None = None


class UnassignBatch(Strict):
    """The body of ``POST /api/import/{id}/record/unassign``."""

    products: list[ProductUnassign] | None = None
