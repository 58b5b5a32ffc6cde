"""The variants of a product's configurator, staged with it: one per combination of its options.
Existing variants (matched by their options) are updated, new ones numbered ``<parent>.<n>`` in
combination order, and the variants of combinations no longer listed deleted. Variants take the fields the
parent record carries; ``variantOverrides`` give some of them their own number, stock, prices or media."""

from dataclasses import replace
from typing import cast

from catalog_import.ids import new_id
from catalog_import.imports.records import ProductRecord, VariantOverride
from catalog_import.imports.stagers.base import RecordOutcome, StagedRecord, Staging
from catalog_import.imports.stagers.media import product_media
from catalog_import.imports.stagers.product_fields import option_keys, prices
from catalog_import.imports.variants import (
    INHERITED_FIELDS,
    MAX_VARIANTS,
    variant_combinations,
    variant_count,
)
from catalog_import.models import Operation, RecordAction
from catalog_import.models.payloads import ProductPayload
from catalog_import.problems import error
from catalog_import.resolvers.base import Reference


def want_variants(staging: Staging, record: ProductRecord) -> None:
    """The product's variants, and the numbers its new variants would get: taken already when pushed
    before."""
    assert record.variants is not None
    product = staging.lookups.product
    staging.lookups.variants.want(record.id, record.product_number)
    count = min(variant_count(record.variants), MAX_VARIANTS)
    numbers = [f"{record.product_number}.{n}" for n in range(1, count + 1)]
    overridden = [o.product_number for o in record.variant_overrides or ()]
    product.want(keys=[*numbers, *overridden] if record.product_number else overridden)


def stage_variants(
    staging: Staging, outcome: RecordOutcome, parent: StagedRecord, record: ProductRecord, path: str
) -> None:
    assert record.variants is not None
    count = variant_count(record.variants)
    if count > MAX_VARIANTS:
        message = f"{count} variants; at most {MAX_VARIANTS} are generated per product"
        outcome.problems.append(error("INVALID_FIELD", message, f"{path}.variants"))
        return
    listed = {frozenset(keys): keys for keys in variant_combinations(record.variants)}
    overrides: dict[frozenset[str], tuple[int, VariantOverride]] = {}
    for index, override in enumerate(record.variant_overrides or ()):
        combination = frozenset(option_keys(override.options))
        if combination not in listed or combination in overrides:
            what = "match no combination of the variants" if combination not in listed else "repeat"
            problem = error(
                "INVALID_FIELD", f"The options {what}", f"{path}.variantOverrides.{index}.options"
            )
            outcome.problems.append(problem)
            continue
        overrides[combination] = (index, override)
    if outcome.rejected:
        return
    products = staging.lookups.product
    existing = staging.lookups.variants.of(parent.entity_id)
    parent_payload = cast(ProductPayload, parent.payload)
    parent_number = parent_payload.get("productNumber") or parent.natural_key
    inherited = {key: value for key, value in parent_payload.items() if key in INHERITED_FIELDS}
    inherited_tax = [ref for ref in parent.refs if ref.entity == "tax"]
    for number_in_order, (combination, keys) in enumerate(listed.items(), start=1):
        overridden = overrides.get(combination)
        chosen = overridden[1] if overridden else None
        child_path = f"{path}.variantOverrides.{overridden[0]}" if overridden else f"{path}.variants"
        payload = cast(ProductPayload, {**inherited, "parentId": parent.entity_id.hex, "options": keys})
        number = chosen.product_number if chosen is not None else None
        found = existing.get(combination)
        if found is not None:
            child_id, action = found.id, RecordAction.UPDATE
            key = number or found.product_number
        else:
            key = number or f"{parent_number}.{number_in_order}"
            same_number = products.by_key(key)
            if same_number is not None and not same_number.staged:
                message = f"Product number {key} already belongs to another product"
                outcome.problems.append(error("DUPLICATE_PRODUCT_NUMBER", message, child_path))
                continue
            child_id = same_number.id if same_number else new_id()
            creating = same_number is None or same_number.creating
            action = RecordAction.CREATE if creating else RecordAction.UPDATE
        if number is not None or found is None:
            payload["productNumber"] = key
        if action is RecordAction.CREATE:
            payload["adoptByNumber"] = True
        child = StagedRecord(Operation.UPSERT, "product", child_id, action, key, True, child_path, payload)
        if chosen is not None:
            if chosen.stock is not None:
                payload["stock"] = chosen.stock
            if chosen.prices is not None:
                payload["prices"] = prices(staging, outcome, chosen, child_path)
            if chosen.media is not None:
                payload["mediaIds"] = product_media(staging, outcome, child, chosen, child_path)
        if parent.action is RecordAction.CREATE:
            child.refs.append(Reference("product", child_path, id=parent.entity_id))
        # The tax it inherits is a dependency of its own: adopted at commit (another import created it
        # meanwhile), its id changes in the variant's payload too.
        child.refs.extend(replace(ref, nested=False) for ref in inherited_tax)
        staging.stage(outcome, products, child)
    for combination, variant in existing.items():
        if combination not in listed:
            dropped = StagedRecord(
                Operation.DELETE, "product", variant.id, RecordAction.DELETE, variant.product_number, True,
                f"{path}.variants", {},
            )  # fmt: skip
            outcome.staged.append(dropped)
