"""Products: identified by id or product number; a create needs a number, a name, a tax and prices (a
variant only its number: it takes the rest from its parent). A product names its tax (created on the way
when given with a rate), categories, media (created on the way by URL), properties, parent and custom
records, and may carry a configurator whose variants are staged with it."""

from catalog_import.ids import new_id
from catalog_import.imports.records import ProductRecord
from catalog_import.imports.stagers.base import ModelStager, RecordOutcome, StagedRecord, Staging
from catalog_import.imports.stagers.custom import product_extensions, want_extensions
from catalog_import.imports.stagers.media import product_media, want_media
from catalog_import.imports.stagers.product_fields import option_keys, prices, want_categories
from catalog_import.imports.stagers.variants import stage_variants, want_variants
from catalog_import.models import Operation, RecordAction
from catalog_import.models.payloads import ProductPayload
from catalog_import.problems import error
from catalog_import.resolvers.category import path_key

# Fields copied as they are; those named in NOT_NULL may be absent but not null.
PLAIN_FIELDS = (
    ("product_number", "productNumber"),
    ("name", "name"),
    ("description", "description"),
    ("active", "active"),
    ("stock", "stock"),
    ("custom_fields", "customFields"),
)
NOT_NULL = frozenset({"productNumber", "name", "active", "stock"})


class ProductStager(ModelStager[ProductRecord]):
    entity = "product"
    model = ProductRecord

    def want(self, staging: Staging, record: ProductRecord) -> None:
        lookups = staging.lookups
        lookups.product.want_id(record.id)
        lookups.product.want_key(record.product_number)
        if record.variants is not None:
            want_variants(staging, record)
        if record.parent is not None:
            lookups.product.want_id(record.parent.id)
            lookups.product.want_key(record.parent.product_number)
        if record.tax is not None:
            lookups.tax.want_id(record.tax.id)
            lookups.tax.want_key(record.tax.name)
        for price in record.prices or ():
            if isinstance(price.currency, str):
                lookups.currency.want_key(price.currency.upper())
            else:
                lookups.currency.want_id(price.currency.id)
        for media in record.media or ():
            want_media(staging, media)
        want_categories(staging, record.categories)
        want_extensions(staging, record.extensions)

    def stage(self, staging: Staging, record: ProductRecord, path: str) -> RecordOutcome:
        outcome = staging.begin(self.entity, path)
        fields = record.model_fields_set
        if record.variant_overrides is not None and record.variants is None:
            problem = error("INVALID_FIELD", "variantOverrides need variants", f"{path}.variantOverrides")
            outcome.problems.append(problem)
            return staging.finish(outcome)

        def missing() -> list[str]:
            if record.parent is not None:
                # A variant takes its name, tax and prices from its parent unless it has its own.
                return [] if record.product_number else ["productNumber"]
            needed = [("productNumber", record.product_number), ("name", record.name), ("tax", record.tax)]
            absent = [name for name, value in needed if value is None]
            if not record.prices:
                absent.append("prices")
            return absent

        identity = staging.identify(
            outcome,
            staging.lookups.product,
            record.id,
            record.product_number,
            "productNumber",
            missing,
            "DUPLICATE_PRODUCT_NUMBER",
        )
        if identity is None:
            return staging.finish(outcome)
        payload: ProductPayload = {}
        for name, alias in PLAIN_FIELDS:
            if name in fields:
                value = getattr(record, name)
                if value is None and alias in NOT_NULL:
                    outcome.problems.append(
                        error("INVALID_FIELD", f"{alias} cannot be null", f"{path}.{alias}")
                    )
                    continue
                payload[alias] = value  # type: ignore[literal-required]  # the aliases are payload keys
        if record.id is None and identity.action is RecordAction.CREATE:
            payload["adoptByNumber"] = True
        staged = staging.root(outcome, identity, identity.key_or_existing(record.product_number), payload)
        if record.tax is not None:
            payload["taxId"] = product_tax(staging, outcome, staged, record, path)
        if record.prices is not None:
            payload["prices"] = prices(staging, outcome, record, path)
        if record.categories is not None:
            payload["categoryIds"] = staging.references(
                outcome,
                staged,
                staging.lookups.category,
                ((ref.id, path_key(ref.path) if ref.path else None) for ref in record.categories),
                f"{path}.categories",
                "categoryIds",
            )
        if record.media is not None:
            payload["mediaIds"] = product_media(staging, outcome, staged, record, path)
        if record.properties is not None:
            payload["properties"] = option_keys(record.properties)
        if record.options is not None:
            payload["options"] = option_keys(record.options)
        if "parent" in fields:
            payload["parentId"] = product_parent(staging, outcome, staged, record, path)
        if record.extensions is not None:
            payload["customEntityIds"] = product_extensions(staging, outcome, staged, record.extensions, path)
        if not outcome.rejected:
            staging.settle(outcome, staging.lookups.product, staged)
            if record.variants is not None:
                stage_variants(staging, outcome, staged, record, path)
        return staging.finish(outcome)


def product_parent(
    staging: Staging, outcome: RecordOutcome, staged: StagedRecord, record: ProductRecord, path: str
) -> str | None:
    """The parent of a variant (``"parent": null`` makes it a product of its own again)."""
    if record.parent is None:
        return None
    parent = staging.reference(
        outcome,
        staged,
        staging.lookups.product,
        ref_id=record.parent.id,
        key=record.parent.product_number if record.parent.id is None else None,
        path=f"{path}.parent",
        field_name="parentId",
        many=False,
    )
    if parent == staged.entity_id:
        outcome.problems.append(
            error("INVALID_FIELD", "A product cannot be its own parent", f"{path}.parent")
        )
        return None
    return parent.hex if parent else None


def product_tax(
    staging: Staging, outcome: RecordOutcome, staged: StagedRecord, record: ProductRecord, path: str
) -> str | None:
    """The product's tax, by id or name; a tax named with a rate that does not exist yet is created."""
    ref = record.tax
    assert ref is not None
    lookup = staging.lookups.tax
    tax_path = f"{path}.tax"
    known = lookup.find(ref.id, ref.name if ref.id is None else None)
    if known is None and ref.id is not None and ref.name is not None:
        known = lookup.by_key(ref.name)
    if known is None and ref.name is not None and ref.tax_rate is not None:
        nested = StagedRecord(
            Operation.UPSERT, "tax", ref.id or new_id(), RecordAction.CREATE, ref.name, False, tax_path,
            {"name": ref.name, "taxRate": str(ref.tax_rate)},
        )  # fmt: skip
        staging.nest(outcome, lookup, staged, nested)
        return nested.entity_id.hex
    resolved = staging.reference(
        outcome,
        staged,
        lookup,
        ref_id=ref.id,
        key=ref.name if ref.id is None else None,
        path=tax_path,
        field_name="taxId",
        many=False,
    )
    return resolved.hex if resolved else None
