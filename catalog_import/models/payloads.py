"""The payload of a staged record, one shape per operation and entity: what the push stage writes into
``import_records.payload`` and the commit's writers read back (in SQL, as ``payload->>'taxId'``). Ids are
written as 32 hex digits. A field absent from an update's payload keeps its value in the catalog; a field
present (even null) replaces it."""

from typing import Any, Literal, TypedDict

from catalog_import.models.staging import Operation


class TaxPayload(TypedDict, total=False):
    name: str | None
    taxRate: str  # a decimal, as text so that no digit is lost


class CategoryPayload(TypedDict, total=False):
    name: str | None
    active: bool
    description: str | None
    parentId: str | None  # null: a root category
    productIds: list[str]  # the products it lists, replacing those it listed


class MediaPayload(TypedDict, total=False):
    url: str
    title: str | None
    alt: str | None
    filename: str | None
    folderKey: str  # the folder's path key: the commit creates the folders missing
    folderId: str | None  # null takes the media out of its folder


class PricePayload(TypedDict):
    currencyId: str
    gross: str
    net: str
    linked: bool


class ProductPayload(TypedDict, total=False):
    productNumber: str
    name: str
    description: str | None
    active: bool
    stock: int
    customFields: dict[str, Any] | None
    adoptByNumber: Literal[True]
    """A product created without an id given (numbered by the server, or a generated variant): at commit it
    adopts a product that another import created meanwhile with its number, instead of failing
    (CONTRACT §3.2)."""
    taxId: str | None
    parentId: str | None  # null makes a variant a product of its own again
    prices: list[PricePayload]
    categoryIds: list[str]
    mediaIds: list[str]  # in position order
    properties: list[str]  # ``group␟option`` keys
    options: list[str]  # a variant's configurator options, as ``group␟option`` keys
    customEntityIds: list[str]


class CustomRecordPayload(TypedDict):
    type: str  # the custom entity's name
    data: dict[str, Any]


class UnassignPayload(TypedDict):
    """What to take off a product: media by id, URL or file name, categories, properties."""

    mediaIds: list[str]
    mediaUrls: list[str]
    mediaFilenames: list[str]
    categoryIds: list[str]
    properties: list[str]


class DeletePayload(TypedDict):
    """A deletion carries nothing beyond the record's identity."""


Payload = (
    TaxPayload
    | CategoryPayload
    | MediaPayload
    | ProductPayload
    | CustomRecordPayload
    | UnassignPayload
    | DeletePayload
)

ReferenceField = Literal["taxId", "parentId", "categoryIds", "productIds", "mediaIds"]
"""The payload fields a reference left pending at push (``deferReferences``) resolves into at commit."""

PAYLOADS: dict[tuple[Operation, str], type[Any]] = {
    (Operation.UPSERT, "tax"): TaxPayload,
    (Operation.UPSERT, "category"): CategoryPayload,
    (Operation.UPSERT, "media"): MediaPayload,
    (Operation.UPSERT, "product"): ProductPayload,
    (Operation.UPSERT, "custom_entity"): CustomRecordPayload,
    (Operation.UNASSIGN, "product"): UnassignPayload,
    (Operation.DELETE, "product"): DeletePayload,
    (Operation.DELETE, "category"): DeletePayload,
    (Operation.DELETE, "media"): DeletePayload,
    (Operation.DELETE, "tax"): DeletePayload,
    (Operation.DELETE, "custom_entity"): DeletePayload,
}
"""The payload shape of each (operation, entity) the writers write."""
