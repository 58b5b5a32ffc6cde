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
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError
from typing_extensions import TypeAliasType

from catalog_import.addresses import check_fetch_url
from catalog_import.ids import Id
from catalog_import.json_checks import no_nul, plain_json

CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def no_control_characters(value: str) -> str:
    if CONTROL_CHARACTERS.search(value):
        raise ValueError("must not contain control characters")
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


SourceUrl = Annotated[
    Url,
    AfterValidator(fetchable_url),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": 2048,
            # http or https, and no user name or password before the host.
            "pattern": r"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#@\s]+([/?#].*)?$",
        }
    ),
]
"""The URL a media is downloaded from; URLs that only name a media (deletes, unassigns) stay ``Url``."""
STOCK_MIN, STOCK_MAX = -(2**31), 2**31 - 1
Stock = Annotated[
    int,
    BeforeValidator(integer_or_numeric_string),
    Field(ge=STOCK_MIN, le=STOCK_MAX),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": STOCK_MIN, "maximum": STOCK_MAX},
                {"type": "string", "pattern": r"^\s*-?\d+\s*$", "maxLength": 32},
            ],
            "description": f"Units in stock: an integer from {STOCK_MIN} to {STOCK_MAX}, or one written as a "
            'string ("100").',
            "examples": [100, "100"],
        }
    ),
]
# A decimal number written as a string, as Python's Decimal reads it ("10.50", "1e3", " 2 ").
DECIMAL_STRING = r"^\s*[+-]?(?=\.?\d)(\d+(_\d+)*)?(\.(\d+(_\d+)*)?)?([eE][+-]?\d+)?\s*$"


def decimal_schema(maximum: int, description: str, example: float) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": maximum},
                {"type": "string", "pattern": DECIMAL_STRING, "maxLength": 64},
            ],
            "description": f"{description}: a number from 0 to {maximum:g} with at most 4 decimal places, "
            "or one written as a string.",
            "examples": [example, str(example)],
        }
    )


Money = Annotated[
    Decimal,
    Field(ge=0, le=Decimal("1e15"), max_digits=20, decimal_places=4, allow_inf_nan=False),
    decimal_schema(10**15, "An amount", 15),
]
TaxRate = Annotated[
    Decimal,
    Field(ge=0, le=100, max_digits=10, decimal_places=4, allow_inf_nan=False),
    decimal_schema(100, "A tax rate in percent", 19),
]
CategoryPath = Annotated[
    list[Name],
    Field(
        min_length=1,
        max_length=32,
        description="Category names from the root down.",
        examples=[["Home", "Category 2", "Category 3"]],
    ),
]


class Strict(BaseModel):
    """Unknown fields are refused (``additionalProperties: false``), and only the contract's camelCase names
    are read: in Python, pass them as keyword arguments (``ProductRecord(productNumber="X1")``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=False)


def one_of_required(first: str, second: str) -> dict[str, Any]:
    """JSON Schema for "``first`` or ``second``, at least one" (what a model validator checks), written as
    if/then, which client generators pass over rather than turn the model into a union."""
    return {"if": {"not": {"required": [first]}}, "then": {"required": [second]}}


def exactly_one_of(*fields: str) -> dict[str, Any]:
    """JSON Schema for "exactly one of ``fields``", written as if/then/else like ``one_of_required``."""
    first, *rest = fields
    if not rest:
        return {"required": [first]}
    return {
        "if": {"required": [first]},
        "then": {"not": {"anyOf": [{"required": [name]} for name in rest]}},
        "else": exactly_one_of(*rest),
    }


IdField = Annotated[Id | None, Field(description="The entity's id (32 hex digits or the dashed form).")]


class TaxRef(Strict):
    """A tax: ``{"id"}``, ``{"name"}``, or ``{"name", "taxRate"}`` to create it when no tax has that name."""

    model_config = ConfigDict(json_schema_extra=one_of_required("id", "name"))

    id: IdField = None
    name: Name | None = Field(default=None, description="The tax's name.", examples=["Reduced rate 2"])
    tax_rate: TaxRate | None = Field(
        default=None, alias="taxRate", description="With a name: the rate of the tax to create if missing."
    )

    @model_validator(mode="after")
    def needs_id_or_name(self) -> "TaxRef":
        if self.id is None and self.name is None:
            raise ValueError("a tax reference needs an id or a name")
        return self


class CurrencyIdRef(Strict):
    """A currency by its id."""

    id: Id


CurrencyRef = TypeAliasType(
    "CurrencyRef",
    Annotated[
        Annotated[str, Field(pattern=r"^[A-Za-z]{3}$", description="An ISO 4217 code.", examples=["EUR"])]
        | CurrencyIdRef,
        Field(description='A currency: its ISO 4217 code ("EUR") or ``{"id"}``.'),
    ],
)


class Price(Strict):
    """A price in one currency."""

    currency: CurrencyRef
    gross: Money = Field(description="The gross price.")
    net: Money = Field(description="The net price.")
    linked: StrictBool = Field(default=True, description="Whether net follows gross through the tax rate.")


class CategoryRef(Strict):
    """A category: ``{"id"}`` or ``{"path": ["Home", "Shoes"]}``."""

    model_config = ConfigDict(json_schema_extra=exactly_one_of("id", "path"))

    id: IdField = None
    path: CategoryPath | None = None

    @model_validator(mode="after")
    def needs_id_or_path(self) -> "CategoryRef":
        if (self.id is None) == (self.path is None):
            raise ValueError("a category reference needs either an id or a path")
        return self


class ProductRef(Strict):
    """A product: ``{"id"}`` or ``{"productNumber"}``."""

    model_config = ConfigDict(json_schema_extra=one_of_required("id", "productNumber"))

    id: IdField = None
    product_number: Name | None = Field(
        default=None, alias="productNumber", description="The product's number.", examples=["COOLPROD1"]
    )

    @model_validator(mode="after")
    def needs_id_or_number(self) -> "ProductRef":
        if self.id is None and self.product_number is None:
            raise ValueError("a product reference needs an id or a productNumber")
        return self


class FolderRef(Strict):
    """A media folder: ``{"id"}`` of an existing one, or ``{"path": ["Products", "Shoes"]}``, created when
    missing."""

    model_config = ConfigDict(json_schema_extra=exactly_one_of("id", "path"))

    id: IdField = None
    path: CategoryPath | None = None

    @model_validator(mode="after")
    def needs_id_or_path(self) -> "FolderRef":
        if (self.id is None) == (self.path is None):
            raise ValueError("a folder reference needs either an id or a path")
        return self


FileName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=255,
        pattern=r"^[^/\\\x00-\x1f]+$",
        description="The file name the media is served under.",
        examples=["other-media.jpg"],
    ),
]


class MediaFields(Strict):
    url: SourceUrl | None = Field(
        default=None,
        description="The http(s) URL the media is downloaded from at commit; its identity. Needed to "
        "create. No user name or password; the host a name or an IP address in its standard form.",
        examples=["https://images.example.com/pommes.jpg"],
    )
    title: Text | None = Field(default=None, examples=["pommes"])
    alt: Text | None = Field(default=None, description="The alternative text.", examples=["alt"])
    filename: FileName | None = None
    folder: FolderRef | None = None


class MediaRef(MediaFields):
    """A media in a product: ``{"id"}`` assigns an existing one; an object with ``url`` (and no id) creates
    it, or reuses the media already imported from that URL."""

    model_config = ConfigDict(json_schema_extra=one_of_required("id", "url"))

    id: IdField = None

    @model_validator(mode="after")
    def needs_id_or_url(self) -> "MediaRef":
        if self.id is None and self.url is None:
            raise ValueError("a media reference needs an id or a url")
        return self


class TaxRecord(Strict):
    """A tax, identified by its ``id`` or its ``name``. Needed to create: ``name`` and ``taxRate``."""

    model_config = ConfigDict(
        json_schema_extra={
            **one_of_required("id", "name"),
            "examples": [{"name": "Reduced rate 2", "taxRate": 7}],
        }
    )

    id: IdField = None
    name: Name | None = Field(default=None, description="Needed to create.", examples=["Reduced rate 2"])
    tax_rate: TaxRate | None = Field(default=None, alias="taxRate", description="Needed to create.")


class CategoryRecord(Strict):
    """A category, identified by its ``id`` or by its path (``parent`` and ``name``). Needed to create:
    ``name``."""

    model_config = ConfigDict(
        json_schema_extra={
            **one_of_required("id", "name"),
            "examples": [{"name": "Category 3", "parent": ["Home", "Category 2"]}],
        }
    )

    id: IdField = None
    name: Name | None = Field(default=None, description="Needed to create.", examples=["Category 3"])
    parent: CategoryPath | CategoryRef | None = Field(
        default=None,
        description='The parent: a list of names from the root, ``{"path"}`` or ``{"id"}``; absent: a root '
        "category.",
    )
    active: StrictBool | None = None
    description: Text | None = None
    products: Annotated[list[ProductRef], Field(max_length=10_000)] | None = Field(
        default=None, description="Products to assign to the category."
    )


class MediaRecord(MediaFields):
    """A media, identified by its ``id`` or its source ``url``. Needed to create: ``url``. Downloaded at
    commit; pushing it again as a root record updates its title, alt text, file name or folder."""

    model_config = ConfigDict(
        json_schema_extra={
            **one_of_required("id", "url"),
            "examples": [{"url": "https://images.example.com/pommes.jpg", "title": "pommes", "alt": "alt"}],
        }
    )

    id: IdField = None


class OptionRef(Strict):
    """A property option by names: ``{"group": "Size", "option": "S"}``; created when missing."""

    group: Name = Field(description="The property group.", examples=["Size"])
    option: Name = Field(description="The option of that group.", examples=["S"])


class VariantOption(Strict):
    """One value of the configurator a product's variants are generated from."""

    property: Name = Field(description="The property (group) that varies.", examples=["Size"])
    value: Name = Field(description="One of its values.", examples=["S"])


class VariantOverride(Strict):
    """What sets one generated variant apart beyond its options: its number, stock, prices or media."""

    options: Annotated[list[OptionRef], Field(min_length=1, max_length=50)] = Field(
        description="The combination of the variant this applies to."
    )
    product_number: Name | None = Field(default=None, alias="productNumber")
    stock: Stock | None = None
    prices: Annotated[list[Price], Field(max_length=200)] | None = None
    media: Annotated[list[MediaRef], Field(max_length=1000)] | None = None


class CustomRecord(BaseModel):
    """A record of a custom entity: the fields its declaration's JSON Schema allows, and an optional
    ``id`` (a record with the id of an existing one updates the fields it carries)."""

    model_config = ConfigDict(
        extra="allow", json_schema_extra={"examples": [{"name": "Acme", "country": "DE"}]}
    )

    id: IdField = None


CustomFields = Annotated[dict[str, Any], WithJsonSchema({"$ref": "#/components/schemas/CustomRecord"})]
"""A custom record as a product carries it: checked against its entity's declaration when staged."""


APPENDIX_A_PRODUCT: dict[str, Any] = {
    "id": "018a6b222b5a734d956fb03dda765bf8",
    "name": "Cool Prod 1",
    "productNumber": "COOLPROD1",
    "tax": {"name": "Reduced rate 2"},
    "prices": [{"currency": "EUR", "gross": 15, "net": 10, "linked": False}],
    "stock": "100",
    "categories": [{"path": ["Home", "Category 2", "Category 3"]}],
    "media": [
        {
            "url": "https://images.unsplash.com/photo-1660236822651-4263beb35fa8?ixlib=rb-4.0.3&ixid=M3wxMjA3fDB8MHxwaG90by1wYWdlfHx8fGVufDB8fHx8fA%3D%3D&auto=format&fit=crop&w=1170&q=80",
            "title": "pommes",
            "alt": "alt",
            "filename": "other-media.jpg",
        }
    ],
}
"""The product record of the design's Appendix A."""


class ProductRecord(Strict):
    """A product, identified by its ``id`` or its ``productNumber``. Needed to create: ``productNumber``,
    ``name``, ``tax`` and at least one of ``prices`` (a variant pushed with ``parent`` takes its parent's).
    An update changes only the fields it carries."""

    model_config = ConfigDict(
        json_schema_extra={**one_of_required("id", "productNumber"), "examples": [APPENDIX_A_PRODUCT]}
    )

    id: IdField = None
    # Absent or a value, never null (a product always has a number, a name, a state and a stock).
    product_number: Name | SkipJsonSchema[None] = Field(
        default=None, alias="productNumber", description="Needed to create.", examples=["COOLPROD1"]
    )
    name: (
        Annotated[str, Field(min_length=1, max_length=255), AfterValidator(no_nul)] | SkipJsonSchema[None]
    ) = Field(default=None, description="Needed to create.", examples=["Cool Prod 1"])
    description: Text | None = Field(default=None, description="null removes the description.")
    active: StrictBool | SkipJsonSchema[None] = None
    stock: Stock | SkipJsonSchema[None] = None
    tax: TaxRef | None = Field(default=None, description="Needed to create.")
    prices: Annotated[list[Price], Field(max_length=200)] | None = Field(
        default=None, description="Needed to create (at least one)."
    )
    categories: Annotated[list[CategoryRef], Field(max_length=1000)] | None = Field(
        default=None, description="Categories to assign the product to (added to those it has)."
    )
    media: Annotated[list[MediaRef], Field(max_length=1000)] | None = Field(
        default=None, description="Media to assign, existing (by id) or new (by url), in this order."
    )
    custom_fields: Annotated[dict[str, Any], AfterValidator(plain_json)] | None = Field(
        default=None, alias="customFields", description="Free-form JSON, nested at most 32 levels deep."
    )
    properties: Annotated[list[OptionRef], Field(max_length=1000)] | None = Field(
        default=None, description="Filterable properties to assign."
    )
    parent: ProductRef | None = Field(
        default=None, description="For a variant managed by the client: its parent product."
    )
    options: Annotated[list[OptionRef], Field(min_length=1, max_length=50)] | None = Field(
        default=None, description="For a variant managed by the client: the options that set it apart."
    )
    variants: Annotated[list[VariantOption], Field(min_length=1, max_length=500)] | None = Field(
        default=None,
        description="A configurator: one variant is generated per combination of the values of its "
        "properties (at most 1,000), numbered <productNumber>.1, .2, … in combination order.",
    )
    variant_overrides: Annotated[list[VariantOverride], Field(max_length=1000)] | None = Field(
        default=None, alias="variantOverrides", description="With variants: what sets some of them apart."
    )
    extensions: dict[str, CustomFields | list[CustomFields]] | None = Field(
        default=None,
        description="Custom entity records to create (or name by id) and link, one object or a list per "
        "custom entity name.",
    )


class RecordBatch(Strict):
    """The body of ``POST /api/import/{id}/record``: at most 1,000 root records, in collections. Each record
    is checked on its own: the valid ones are staged, the others answered with their problems."""

    taxes: list[TaxRecord] | None = None
    categories: list[CategoryRecord] | None = None
    media: list[MediaRecord] | None = None
    products: list[ProductRecord] | None = None
    extensions: dict[str, list[CustomRecord]] | None = Field(
        default=None, description="Records of custom entities, by custom entity name."
    )


# Delete and unassign bodies --------------------------------------------------------------------------


class ProductKey(ProductRef):
    """A product to delete: ``{"productNumber"}`` or ``{"id"}``."""


class CategoryKey(CategoryRef):
    """A category to delete, with its subtree: ``{"path"}`` or ``{"id"}``."""


class MediaKey(Strict):
    """A media to delete: ``{"url"}`` (its source URL) or ``{"id"}``."""

    model_config = ConfigDict(json_schema_extra=one_of_required("id", "url"))

    id: IdField = None
    url: Url | None = Field(default=None, description="The URL the media was imported from.")

    @model_validator(mode="after")
    def needs_id_or_url(self) -> "MediaKey":
        if self.id is None and self.url is None:
            raise ValueError("a media needs an id or a url")
        return self


class TaxKey(Strict):
    """A tax to delete: ``{"name"}`` or ``{"id"}``."""

    model_config = ConfigDict(json_schema_extra=one_of_required("id", "name"))

    id: IdField = None
    name: Name | None = None

    @model_validator(mode="after")
    def needs_id_or_name(self) -> "TaxKey":
        if self.id is None and self.name is None:
            raise ValueError("a tax needs an id or a name")
        return self


class IdRef(Strict):
    """An entity by its id."""

    id: Id


class DeleteBatch(Strict):
    """The body of ``POST /api/import/{id}/record/delete``: ids, or objects naming the identity. Deletions
    run at commit, after every upsert, dependents first."""

    products: list[Id | ProductKey] | None = None
    categories: list[Id | CategoryKey] | None = None
    media: list[Id | MediaKey] | None = None
    taxes: list[Id | TaxKey] | None = None
    extensions: dict[str, list[Id | IdRef]] | None = Field(
        default=None, description="Custom entity records to delete, by custom entity name."
    )


class MediaUnassignRef(Strict):
    """A media to unlink from the product: exactly one of ``id``, ``filename`` or ``url``."""

    model_config = ConfigDict(json_schema_extra=exactly_one_of("id", "filename", "url"))

    id: IdField = None
    filename: Annotated[str, AfterValidator(no_nul)] | None = None
    url: Url | None = None

    @model_validator(mode="after")
    def needs_one_key(self) -> "MediaUnassignRef":
        if sum(v is not None for v in (self.id, self.filename, self.url)) != 1:
            raise ValueError("name the media by exactly one of id, filename or url")
        return self


class ProductUnassign(ProductRef):
    """Links to remove from one product (named by ``id`` or ``productNumber``) at commit."""

    media: list[MediaUnassignRef] | None = None
    categories: list[CategoryRef] | None = None
    properties: list[OptionRef] | None = None


class UnassignBatch(Strict):
    """The body of ``POST /api/import/{id}/record/unassign``."""

    products: list[ProductUnassign] | None = None
