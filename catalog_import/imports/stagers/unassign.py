"""Unassigns: links to take off a product at commit (media by id, URL or file name, categories,
properties), the product named by id or number."""

from catalog_import.imports.records import ProductUnassign
from catalog_import.imports.stagers.base import ModelStager, RecordOutcome, StagedRecord, Staging
from catalog_import.imports.stagers.product_fields import option_keys, want_categories
from catalog_import.models import Operation, RecordAction
from catalog_import.models.payloads import UnassignPayload
from catalog_import.problems import error
from catalog_import.resolvers.category import display_path, path_key


class UnassignStager(ModelStager[ProductUnassign]):
    entity = "product"
    model = ProductUnassign

    def want(self, staging: Staging, record: ProductUnassign) -> None:
        staging.lookups.product.want_id(record.id)
        staging.lookups.product.want_key(record.product_number)
        want_categories(staging, record.categories)
        for unassigned in record.media or ():
            staging.lookups.media.want_id(unassigned.id)
            staging.lookups.media.want_key(unassigned.url)

    def stage(self, staging: Staging, record: ProductUnassign, path: str) -> RecordOutcome:
        lookups = staging.lookups
        outcome = RecordOutcome(self.entity, path)
        known = lookups.product.find(record.id, record.product_number if record.id is None else None)
        if known is None:
            what = f"ID {record.id.hex}" if record.id else record.product_number
            outcome.problems.append(error("PRODUCT_NOT_FOUND", f"Product {what} not found", path))
            return outcome
        payload: UnassignPayload = {
            "mediaIds": [],
            "mediaUrls": [],
            "mediaFilenames": [],
            "categoryIds": [],
            "properties": option_keys(record.properties or ()),
        }
        for index, media in enumerate(record.media or ()):
            if media.filename is not None:
                payload["mediaFilenames"].append(media.filename)
            elif media.url is not None:
                payload["mediaUrls"].append(media.url)
            else:
                assert media.id is not None
                if lookups.media.by_id(media.id) is None:
                    message = f"Media ID {media.id.hex} not found"
                    outcome.problems.append(error("MEDIA_NOT_FOUND", message, f"{path}.media.{index}"))
                    continue
                payload["mediaIds"].append(media.id.hex)
        for index, category in enumerate(record.categories or ()):
            found = lookups.category.find(category.id, path_key(category.path) if category.path else None)
            if found is None:
                what = f"ID {category.id.hex}" if category.id else display_path(category.path or [])
                message = f"Category {what} not found"
                outcome.problems.append(error("CATEGORY_NOT_FOUND", message, f"{path}.categories.{index}"))
                continue
            payload["categoryIds"].append(found.id.hex)
        if outcome.rejected:
            return outcome
        outcome.id, outcome.action = known.id, RecordAction.UNASSIGN
        outcome.staged.append(
            StagedRecord(
                Operation.UNASSIGN,
                self.entity,
                known.id,
                RecordAction.UNASSIGN,
                known.key,
                True,
                path,
                payload,
            )
        )
        return outcome
