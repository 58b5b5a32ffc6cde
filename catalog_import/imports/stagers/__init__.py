"""The push stage's stagers: one per collection a push body may hold and operation, in an explicit table.
A stager reads the root records of its collection, says what they need looked up, and turns each into
staged records (the record, its nested creations and variants) or into the problems that keep it out."""

from typing import Any

from catalog_import.imports.stagers.base import (
    RecordOutcome,
    Rejected,
    RootItem,
    StagedRecord,
    Stager,
    Staging,
)
from catalog_import.imports.stagers.category import CategoryStager
from catalog_import.imports.stagers.custom import CustomDeleteStager, CustomRecordStager
from catalog_import.imports.stagers.deletes import DELETE_ITEMS, DeleteStager
from catalog_import.imports.stagers.media import MediaStager
from catalog_import.imports.stagers.product import ProductStager
from catalog_import.imports.stagers.tax import TaxStager
from catalog_import.imports.stagers.unassign import UnassignStager
from catalog_import.models import Operation

STAGERS: dict[Operation, dict[str, Stager[Any]]] = {
    Operation.UPSERT: {
        "taxes": TaxStager(),
        "categories": CategoryStager(),
        "media": MediaStager(),
        "products": ProductStager(),
        "extensions": CustomRecordStager(),
    },
    Operation.DELETE: {
        **{
            collection: DeleteStager(entity, adapter)
            for collection, (entity, adapter) in DELETE_ITEMS.items()
        },
        "extensions": CustomDeleteStager(),
    },
    Operation.UNASSIGN: {"products": UnassignStager()},
}
"""The collections a push of each operation may hold, and the stager of each."""

__all__ = ["STAGERS", "RecordOutcome", "Rejected", "RootItem", "StagedRecord", "Stager", "Staging"]
