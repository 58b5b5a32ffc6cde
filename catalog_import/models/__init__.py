"""SQLAlchemy models: the intermediate store (staging) and the target catalog, on one metadata."""

from catalog_import.models.auth import Integration, ServerKey
from catalog_import.models.base import Base
from catalog_import.models.catalog import (
    Category,
    Currency,
    Media,
    MediaFolder,
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
from catalog_import.models.custom import CustomEntityRecord, CustomEntityType, ProductCustomEntity
from catalog_import.models.staging import (
    Import,
    ImportFailure,
    ImportRecord,
    ImportStatus,
    Operation,
    RecordAction,
    RecordDependency,
    RecordState,
    WebhookDelivery,
    WebhookState,
)

__all__ = [
    "Base",
    "Category",
    "Currency",
    "CustomEntityRecord",
    "CustomEntityType",
    "Import",
    "ImportFailure",
    "ImportRecord",
    "ImportStatus",
    "Integration",
    "Media",
    "MediaFolder",
    "Operation",
    "Product",
    "ProductCategory",
    "ProductCustomEntity",
    "ProductMedia",
    "ProductOption",
    "ProductPrice",
    "ProductProperty",
    "PropertyGroup",
    "PropertyOption",
    "RecordAction",
    "RecordDependency",
    "RecordState",
    "ServerKey",
    "Tax",
    "WebhookDelivery",
    "WebhookState",
]
