"""One writer per entity and operation. A writer takes a batch of claimed staged records and writes them
with a few set-based statements reading the staged payloads inside PostgreSQL; it returns the problems of
the records it did not write."""

from catalog_import.committer.writers.base import Writer
from catalog_import.committer.writers.category import write_categories
from catalog_import.committer.writers.custom import delete_custom_entities, write_custom_entities
from catalog_import.committer.writers.deletes import (
    delete_categories,
    delete_media,
    delete_products,
    delete_taxes,
)
from catalog_import.committer.writers.media import write_media
from catalog_import.committer.writers.product import write_products
from catalog_import.committer.writers.tax import write_taxes
from catalog_import.committer.writers.unassign import unassign_products

WRITERS: dict[tuple[str, str], Writer] = {
    ("upsert", "tax"): write_taxes,
    ("upsert", "category"): write_categories,
    ("upsert", "media"): write_media,
    ("upsert", "product"): write_products,
    ("upsert", "custom_entity"): write_custom_entities,
    ("unassign", "product"): unassign_products,
    ("delete", "product"): delete_products,
    ("delete", "category"): delete_categories,
    ("delete", "media"): delete_media,
    ("delete", "tax"): delete_taxes,
    ("delete", "custom_entity"): delete_custom_entities,
}

__all__ = ["WRITERS", "Writer"]
