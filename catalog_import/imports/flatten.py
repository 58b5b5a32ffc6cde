"""Turn the validated root records of a push into staged records.

For each root record this decides its identity (id or natural key) and whether it is a create or an
update, resolves its references through the lookups, extracts nested creations (a tax with a rate, media
with a URL) into records of their own, and collects the record's problems. A record with an error is not
staged, and whatever it staged in the lookups is undone, so the records after it do not see it."""

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from catalog_import.ids import new_id, parse_id
from catalog_import.imports.records import (
    CategoryRecord,
    CategoryRef,
    MediaFields,
    MediaRecord,
    OptionRef,
    ProductRecord,
    ProductUnassign,
    TaxRecord,
    VariantOverride,
)
from catalog_import.imports.variants import (
    INHERITED_FIELDS,
    MAX_VARIANTS,
    variant_combinations,
    variant_count,
)
from catalog_import.json_checks import plain_json, schema_problems
from catalog_import.models import ADOPT_BY_NUMBER, Operation, RecordAction
from catalog_import.models.catalog import CATEGORY_PATH_SEPARATOR
from catalog_import.problems import Problem, error, warning
from catalog_import.resolvers.base import ENTITY_LABELS, Known, Lookup, Reference, describe, not_found
from catalog_import.resolvers.category import display_path, path_key, path_of
from catalog_import.resolvers.lookups import Lookups


@dataclass(slots=True)
class StagedRecord:
    operation: Operation
    entity: str
    entity_id: uuid.UUID
    action: RecordAction
    natural_key: str | None
    root: bool
    path: str
    payload: dict[str, Any]
    refs: list[Reference] = field(default_factory=list)


@dataclass(slots=True)
class RecordOutcome:
    """What became of one root record of a push."""

    entity: str
    path: str
    id: uuid.UUID | None = None
    action: RecordAction | None = None
    problems: list[Problem] = field(default_factory=list)
    staged: list[StagedRecord] = field(default_factory=list)

    @property
    def rejected(self) -> bool:
        return any(problem.is_error for problem in self.problems)


@dataclass(slots=True)
class Identity:
    id: uuid.UUID
    action: RecordAction
    existing: Known | None


class Flattener:
    """Stages the root records of one push, in body order."""

    def __init__(self, lookups: Lookups, *, defer_references: bool) -> None:
        self.lookups = lookups
        self.defer_references = defer_references

    # -- collecting what to look up, before the lookups are loaded ------------------------------------
    def want(self, entity: str, record: Any) -> None:
        """Collect what a root record of ``entity`` may ask the lookups for, before they load."""
        RECORD_WANTS[entity](self, record)

    def _want_tax(self, record: TaxRecord) -> None:
        self.lookups.tax.want_id(record.id)
        self.lookups.tax.want_key(record.name)

    def _want_category(self, record: CategoryRecord) -> None:
        category = self.lookups.category
        category.want_id(record.id)
        parent_path = self._parent_path(record)
        if parent_path is not None and record.name is not None:
            category.want_key(path_key([*parent_path, record.name]))
        elif record.parent is None and record.name is not None:
            category.want_key(record.name)
        if parent_path is not None:
            category.want_key(path_key(parent_path))
        if isinstance(record.parent, CategoryRef):
            category.want_id(record.parent.id)
        for product in record.products or ():
            self.lookups.product.want_id(product.id)
            self.lookups.product.want_key(product.product_number)

    def _want_media(self, record: MediaRecord) -> None:
        self.lookups.media.want_id(record.id)
        self.lookups.media.want_key(record.url)
        self.lookups.folder.want_id(record.folder.id if record.folder else None)

    def _want_product(self, record: ProductRecord) -> None:
        lk = self.lookups
        lk.product.want_id(record.id)
        lk.product.want_key(record.product_number)
        if record.variants is not None:
            lk.variants.want(record.id, record.product_number)
            # The numbers its new variants would get: taken already when pushed before.
            count = min(variant_count(record.variants), MAX_VARIANTS)
            numbers = [f"{record.product_number}.{n}" for n in range(1, count + 1)]
            overridden = [o.product_number for o in record.variant_overrides or ()]
            lk.product.want(keys=[*numbers, *overridden] if record.product_number else overridden)
        if record.parent is not None:
            lk.product.want_id(record.parent.id)
            lk.product.want_key(record.parent.product_number)
        if record.tax is not None:
            lk.tax.want_id(record.tax.id)
            lk.tax.want_key(record.tax.name)
        for price in record.prices or ():
            if isinstance(price.currency, str):
                lk.currency.want_key(price.currency.upper())
            else:
                lk.currency.want_id(price.currency.id)
        for media in record.media or ():
            lk.media.want_id(media.id)
            lk.media.want_key(media.url)
            lk.folder.want_id(media.folder.id if media.folder else None)
        self._want_categories(record.categories)

    def want_unassign(self, item: ProductUnassign) -> None:
        """Collect what an unassign item may ask the lookups for, before they load."""
        self.lookups.product.want_id(item.id)
        self.lookups.product.want_key(item.product_number)
        self._want_categories(item.categories)
        for unassigned in item.media or ():
            self.lookups.media.want_id(unassigned.id)
            self.lookups.media.want_key(unassigned.url)

    def _want_categories(self, categories: Iterable[CategoryRef] | None) -> None:
        for category in categories or ():
            self.lookups.category.want_id(category.id)
            self.lookups.category.want_key(path_key(category.path) if category.path else None)

    @staticmethod
    def _parent_path(record: CategoryRecord) -> list[str] | None:
        if isinstance(record.parent, list):
            return record.parent
        if isinstance(record.parent, CategoryRef) and record.parent.path is not None:
            return record.parent.path
        return None

    # -- shared steps -----------------------------------------------------------------------------------
    def _identify(
        self,
        outcome: RecordOutcome,
        lookup: Lookup,
        given_id: uuid.UUID | None,
        key: str | None,
        key_field: str,
        missing_for_create: Callable[[], Sequence[str]],
        duplicate_code: str,
    ) -> Identity | None:
        entity, path = outcome.entity, outcome.path
        by_key = lookup.by_key(key) if key is not None else None
        if given_id is not None:
            existing = lookup.by_id(given_id)
            if by_key is not None and by_key.id != given_id:
                outcome.problems.append(
                    error(
                        duplicate_code,
                        f"{ENTITY_LABELS[entity]} {describe(entity, None, key)} already exists "
                        f"with ID {by_key.id.hex}",
                        f"{path}.{key_field}",
                    )
                )
                return None
        elif key is not None:
            existing = by_key
        else:
            outcome.problems.append(
                error("INVALID_FIELD", f"A {entity} record needs an id or a {key_field}", path)
            )
            return None
        if existing is None or (existing.staged and existing.creating):
            action = RecordAction.CREATE
        else:
            action = RecordAction.UPDATE
        if action is RecordAction.CREATE:
            missing = missing_for_create()
            if missing:
                if existing is None and given_id is not None:
                    outcome.problems.append(
                        error(f"{entity.upper()}_NOT_FOUND", f"ID {given_id.hex} not found", path)
                    )
                else:
                    for name in missing:
                        outcome.problems.append(
                            error(
                                "INVALID_FIELD", f"{name} is required to create a {entity}", f"{path}.{name}"
                            )
                        )
                return None
        return Identity(existing.id if existing else (given_id or new_id()), action, existing)

    def _reference(
        self,
        outcome: RecordOutcome,
        record: StagedRecord,
        lookup: Lookup,
        *,
        ref_id: uuid.UUID | None,
        key: str | None,
        path: str,
        field_name: str,
        many: bool,
    ) -> uuid.UUID | None:
        """Resolve one reference. Returns the id, or None when it is pending or not found."""
        entity = lookup.entity
        known = lookup.find(ref_id, key)
        if known is not None:
            if known.creating:
                record.refs.append(Reference(entity, path, id=known.id))
            return known.id
        if self.defer_references and lookup.stageable:
            record.refs.append(Reference(entity, path, id=ref_id, key=key, field=field_name, many=many))
            what = describe(entity, ref_id, key)
            outcome.problems.append(
                warning(
                    "REFERENCE_PENDING",
                    f"{ENTITY_LABELS[entity]} {what} not found yet; it is resolved again at commit",
                    path,
                )
            )
            return None
        outcome.problems.append(not_found(entity, path, ref_id, key))
        return None

    def _stage(self, outcome: RecordOutcome, lookup: Lookup, record: StagedRecord) -> None:
        self.lookups.stage(
            lookup,
            Known(record.entity_id, record.natural_key, creating=record.action is RecordAction.CREATE),
        )
        outcome.staged.append(record)

    def _finish(self, outcome: RecordOutcome) -> RecordOutcome:
        if outcome.rejected:
            self.lookups.rollback()
            outcome.staged.clear()
            outcome.id = None
            outcome.action = None
        else:
            self.lookups.commit()
        return outcome

    # -- root records ---------------------------------------------------------------------------------
    def tax(self, record: TaxRecord, path: str) -> RecordOutcome:
        self.lookups.begin()
        outcome = RecordOutcome("tax", path)
        fields = record.model_fields_set
        identity = self._identify(
            outcome,
            self.lookups.tax,
            record.id,
            record.name,
            "name",
            lambda: [
                f for f, given in (("name", record.name), ("taxRate", record.tax_rate)) if given is None
            ],
            "DUPLICATE_TAX_NAME",
        )
        if identity is not None:
            payload: dict[str, Any] = {}
            if "name" in fields:
                payload["name"] = record.name
            if "tax_rate" in fields and record.tax_rate is not None:
                payload["taxRate"] = str(record.tax_rate)
            key = record.name or (identity.existing.key if identity.existing else None)
            staged = StagedRecord(
                Operation.UPSERT, "tax", identity.id, identity.action, key, True, path, payload
            )
            outcome.id, outcome.action = identity.id, identity.action
            self._stage(outcome, self.lookups.tax, staged)
        return self._finish(outcome)

    def media(self, record: MediaRecord, path: str) -> RecordOutcome:
        self.lookups.begin()
        outcome = RecordOutcome("media", path)
        payload = self._media_payload(outcome, record, path)
        if payload is None:
            return self._finish(outcome)
        identity = self._identify(
            outcome,
            self.lookups.media,
            record.id,
            record.url,
            "url",
            lambda: [] if record.url else ["url"],
            "DUPLICATE_MEDIA_URL",
        )
        if identity is not None:
            key = record.url or (identity.existing.key if identity.existing else None)
            staged = StagedRecord(
                Operation.UPSERT, "media", identity.id, identity.action, key, True, path, payload
            )
            outcome.id, outcome.action = identity.id, identity.action
            self._stage(outcome, self.lookups.media, staged)
        return self._finish(outcome)

    def category(self, record: CategoryRecord, path: str) -> RecordOutcome:
        self.lookups.begin()
        outcome = RecordOutcome("category", path)
        lookup = self.lookups.category
        parent_path = self._parent_path(record)
        parent: Known | None = None
        parent_pending = False
        if isinstance(record.parent, CategoryRef) and record.parent.id is not None:
            parent = lookup.by_id(record.parent.id)
            if parent is None and not self.defer_references:
                outcome.problems.append(
                    error(
                        "CATEGORY_NOT_FOUND",
                        f"Category ID {record.parent.id.hex} not found",
                        f"{path}.parent",
                    )
                )
                return self._finish(outcome)
            parent_pending = parent is None
            if parent is not None and parent.key is not None:
                parent_path = path_of(parent.key)
        elif parent_path is not None:
            parent = lookup.by_key(path_key(parent_path))
            parent_pending = parent is None

        existing = lookup.by_id(record.id) if record.id is not None else None
        # "parent": null moves a category to the root; no parent at all leaves it where it is.
        to_root = "parent" in record.model_fields_set and record.parent is None
        existing_path = path_of(existing.key) if existing is not None and existing.key is not None else None
        own_path: list[str] | None = None
        if record.name is not None:
            if parent_path is not None:
                own_path = [*parent_path, record.name]
            elif record.parent is None:
                own_path = (
                    [*existing_path[:-1], record.name] if existing_path and not to_root else [record.name]
                )
        elif existing_path is not None and record.parent is None:
            own_path = existing_path[-1:] if to_root else existing_path
        if record.id is not None and parent is not None and parent.id == record.id:
            outcome.problems.append(
                error("INVALID_FIELD", "A category cannot be its own parent", f"{path}.parent")
            )
            return self._finish(outcome)

        identity = self._identify(
            outcome,
            lookup,
            record.id,
            path_key(own_path) if own_path is not None else None,
            "name",
            lambda: [] if record.name else ["name"],
            "DUPLICATE_CATEGORY_PATH",
        )
        if identity is None:
            return self._finish(outcome)
        fields = record.model_fields_set
        payload: dict[str, Any] = {}
        if "name" in fields:
            payload["name"] = record.name
        if "active" in fields and record.active is not None:
            payload["active"] = record.active
        if "description" in fields:
            payload["description"] = record.description
        key = path_key(own_path) if own_path is not None else None
        staged = StagedRecord(
            Operation.UPSERT, "category", identity.id, identity.action, key, True, path, payload
        )
        if record.parent is not None:
            parent_ref_id = record.parent.id if isinstance(record.parent, CategoryRef) else None
            payload["parentId"] = None
            if parent is not None or parent_pending:
                resolved = self._reference(
                    outcome,
                    staged,
                    lookup,
                    ref_id=parent_ref_id,
                    key=path_key(parent_path) if parent_ref_id is None and parent_path else None,
                    path=f"{path}.parent",
                    field_name="parentId",
                    many=False,
                )
                payload["parentId"] = resolved.hex if resolved else None
        elif identity.action is RecordAction.CREATE or to_root:
            payload["parentId"] = None
        if record.products is not None:
            product_ids: list[str] = []
            for index, ref in enumerate(record.products):
                resolved = self._reference(
                    outcome,
                    staged,
                    self.lookups.product,
                    ref_id=ref.id,
                    key=ref.product_number if ref.id is None else None,
                    path=f"{path}.products.{index}",
                    field_name="productIds",
                    many=True,
                )
                if resolved is not None and resolved.hex not in product_ids:
                    product_ids.append(resolved.hex)
            payload["productIds"] = product_ids
        if not outcome.rejected:
            outcome.id, outcome.action = identity.id, identity.action
            self._stage(outcome, lookup, staged)
        return self._finish(outcome)

    def product(self, record: ProductRecord, path: str) -> RecordOutcome:
        self.lookups.begin()
        outcome = RecordOutcome("product", path)
        fields = record.model_fields_set
        if record.variant_overrides is not None and record.variants is None:
            problem = error("INVALID_FIELD", "variantOverrides need variants", f"{path}.variantOverrides")
            outcome.problems.append(problem)
            return self._finish(outcome)

        def missing() -> list[str]:
            if record.parent is not None:
                # A variant takes its name, tax and prices from its parent unless it has its own.
                return [] if record.product_number else ["productNumber"]
            needed = [("productNumber", record.product_number), ("name", record.name), ("tax", record.tax)]
            absent = [name for name, value in needed if value is None]
            if not record.prices:
                absent.append("prices")
            return absent

        identity = self._identify(
            outcome,
            self.lookups.product,
            record.id,
            record.product_number,
            "productNumber",
            missing,
            "DUPLICATE_PRODUCT_NUMBER",
        )
        if identity is None:
            return self._finish(outcome)
        payload: dict[str, Any] = {}
        for name, alias in (
            ("product_number", "productNumber"),
            ("name", "name"),
            ("description", "description"),
            ("active", "active"),
            ("stock", "stock"),
            ("custom_fields", "customFields"),
        ):
            if name in fields:
                value = getattr(record, name)
                if value is None and alias in ("productNumber", "name", "active", "stock"):
                    outcome.problems.append(
                        error("INVALID_FIELD", f"{alias} cannot be null", f"{path}.{alias}")
                    )
                    continue
                payload[alias] = value
        if record.id is None and identity.action is RecordAction.CREATE:
            payload[ADOPT_BY_NUMBER] = True
        key = record.product_number or (identity.existing.key if identity.existing else None)
        staged = StagedRecord(
            Operation.UPSERT, "product", identity.id, identity.action, key, True, path, payload
        )
        if record.tax is not None:
            payload["taxId"] = self._product_tax(outcome, staged, record, path)
        if record.prices is not None:
            payload["prices"] = self._prices(outcome, record, path)
        if record.categories is not None:
            category_ids: list[str] = []
            for index, ref in enumerate(record.categories):
                resolved = self._reference(
                    outcome,
                    staged,
                    self.lookups.category,
                    ref_id=ref.id,
                    key=path_key(ref.path) if ref.path else None,
                    path=f"{path}.categories.{index}",
                    field_name="categoryIds",
                    many=True,
                )
                if resolved is not None and resolved.hex not in category_ids:
                    category_ids.append(resolved.hex)
            payload["categoryIds"] = category_ids
        if record.media is not None:
            payload["mediaIds"] = self._product_media(outcome, staged, record, path)
        if record.properties is not None:
            payload["properties"] = option_keys(record.properties)
        if record.options is not None:
            payload["options"] = option_keys(record.options)
        if "parent" in fields:
            payload["parentId"] = self._parent(outcome, staged, record, path)
        if record.extensions is not None:
            payload["customEntityIds"] = self._product_extensions(outcome, staged, record.extensions, path)
        if not outcome.rejected:
            outcome.id, outcome.action = identity.id, identity.action
            self._stage(outcome, self.lookups.product, staged)
            # The root first, then its nested records.
            outcome.staged.insert(0, outcome.staged.pop())
            if record.variants is not None:
                self._variants(outcome, staged, record, path)
        return self._finish(outcome)

    def _variants(
        self, outcome: RecordOutcome, parent: StagedRecord, record: ProductRecord, path: str
    ) -> None:
        """Stage one variant per combination of the configurator: existing ones (matched by their options)
        are updated, new ones numbered ``<parent>.<n>`` in combination order, and the variants of
        combinations no longer listed deleted. Variants take the fields the parent record carries."""
        assert record.variants is not None
        count = variant_count(record.variants)
        if count > MAX_VARIANTS:
            message = f"{count} variants; at most {MAX_VARIANTS} are generated per product"
            outcome.problems.append(error("INVALID_FIELD", message, f"{path}.variants"))
            return
        combos = variant_combinations(record.variants)
        listed = {frozenset(keys): keys for keys in combos}
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
        existing = self.lookups.variants.of(parent.entity_id)
        parent_number = parent.payload.get("productNumber") or parent.natural_key
        inherited = {key: value for key, value in parent.payload.items() if key in INHERITED_FIELDS}
        inherited_tax = [ref for ref in parent.refs if ref.entity == "tax"]
        for number_in_order, (combination, keys) in enumerate(listed.items(), start=1):
            overridden = overrides.get(combination)
            chosen = overridden[1] if overridden else None
            child_path = f"{path}.variantOverrides.{overridden[0]}" if overridden else f"{path}.variants"
            payload: dict[str, Any] = {**inherited, "parentId": parent.entity_id.hex, "options": keys}
            number = chosen.product_number if chosen is not None else None
            found = existing.get(combination)
            if found is not None:
                child_id, action = found.id, RecordAction.UPDATE
                key = number or found.product_number
            else:
                key = number or f"{parent_number}.{number_in_order}"
                same_number = self.lookups.product.by_key(key)
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
                payload[ADOPT_BY_NUMBER] = True
            child = StagedRecord(
                Operation.UPSERT, "product", child_id, action, key, True, child_path, payload
            )
            if chosen is not None:
                if chosen.stock is not None:
                    payload["stock"] = chosen.stock
                if chosen.prices is not None:
                    payload["prices"] = self._prices(outcome, chosen, child_path)
                if chosen.media is not None:
                    payload["mediaIds"] = self._product_media(outcome, child, chosen, child_path)
            if parent.action is RecordAction.CREATE:
                child.refs.append(Reference("product", child_path, id=parent.entity_id))
            # The tax it inherits is a dependency of its own: adopted at commit (another import created
            # it meanwhile), its id changes in the variant's payload too.
            child.refs.extend(replace(ref, nested=False) for ref in inherited_tax)
            self._stage(outcome, self.lookups.product, child)
        for combination, variant in existing.items():
            if combination not in listed:
                dropped = StagedRecord(
                    Operation.DELETE, "product", variant.id, RecordAction.DELETE, variant.product_number,
                    True, f"{path}.variants", {},
                )  # fmt: skip
                outcome.staged.append(dropped)

    def _parent(
        self, outcome: RecordOutcome, staged: StagedRecord, record: ProductRecord, path: str
    ) -> str | None:
        """The parent of a variant (``"parent": null`` makes it a product of its own again)."""
        if record.parent is None:
            return None
        parent = self._reference(
            outcome,
            staged,
            self.lookups.product,
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

    def _product_tax(
        self, outcome: RecordOutcome, staged: StagedRecord, record: ProductRecord, path: str
    ) -> str | None:
        ref = record.tax
        assert ref is not None
        lookup = self.lookups.tax
        tax_path = f"{path}.tax"
        known = lookup.find(ref.id, ref.name if ref.id is None else None)
        if known is None and ref.id is not None and ref.name is not None:
            known = lookup.by_key(ref.name)
        if known is None and ref.name is not None and ref.tax_rate is not None:
            # A nested creation: the tax becomes a record of its own, written before the product.
            tax_id = ref.id or new_id()
            nested = StagedRecord(
                Operation.UPSERT,
                "tax",
                tax_id,
                RecordAction.CREATE,
                ref.name,
                False,
                tax_path,
                {"name": ref.name, "taxRate": str(ref.tax_rate)},
            )
            self._stage(outcome, lookup, nested)
            staged.refs.append(Reference("tax", tax_path, id=tax_id, nested=True))
            return tax_id.hex
        resolved = self._reference(
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

    def _prices(
        self, outcome: RecordOutcome, record: ProductRecord | VariantOverride, path: str
    ) -> list[dict[str, Any]]:
        prices: list[dict[str, Any]] = []
        seen: set[uuid.UUID] = set()
        for index, price in enumerate(record.prices or ()):
            price_path = f"{path}.prices.{index}.currency"
            if isinstance(price.currency, str):
                known = self.lookups.currency.by_key(price.currency.upper())
                what = price.currency
            else:
                known = self.lookups.currency.by_id(price.currency.id)
                what = f"ID {price.currency.id.hex}"
            if known is None:
                outcome.problems.append(error("CURRENCY_NOT_FOUND", f"Currency {what} not found", price_path))
                continue
            if known.id in seen:
                outcome.problems.append(
                    error("INVALID_FIELD", f"A second price in currency {known.key}", price_path)
                )
                continue
            seen.add(known.id)
            prices.append(
                {
                    "currencyId": known.id.hex,
                    "gross": str(price.gross),
                    "net": str(price.net),
                    "linked": price.linked,
                }
            )
        return prices

    def _product_media(
        self, outcome: RecordOutcome, staged: StagedRecord, record: ProductRecord | VariantOverride, path: str
    ) -> list[str]:
        lookup = self.lookups.media
        media_ids: list[str] = []
        for index, ref in enumerate(record.media or ()):
            media_path = f"{path}.media.{index}"
            if ref.id is not None:
                resolved = self._reference(
                    outcome, staged, lookup, ref_id=ref.id, key=None, path=media_path,
                    field_name="mediaIds", many=True,
                )  # fmt: skip
            else:
                assert ref.url is not None
                known = lookup.by_key(ref.url)
                if known is None:
                    payload = self._media_payload(outcome, ref, media_path)
                    if payload is None:
                        continue
                    nested = StagedRecord(
                        Operation.UPSERT, "media", new_id(), RecordAction.CREATE, ref.url, False, media_path,
                        payload,
                    )  # fmt: skip
                    self._stage(outcome, lookup, nested)
                    staged.refs.append(Reference("media", media_path, id=nested.entity_id, nested=True))
                    resolved = nested.entity_id
                else:
                    if known.creating:
                        staged.refs.append(Reference("media", media_path, id=known.id))
                    resolved = known.id
            if resolved is not None and resolved.hex not in media_ids:
                media_ids.append(resolved.hex)
        return media_ids

    def _media_payload(self, outcome: RecordOutcome, record: MediaFields, path: str) -> dict[str, Any] | None:
        """The fields a media record carries, with its folder as ``folderKey`` (the path's key; the commit
        creates the folders missing) or ``folderId`` (``null`` takes the media out of its folder). None
        when the folder named by id does not exist."""
        fields = record.model_fields_set
        payload = {name: getattr(record, name) for name in MEDIA_FIELDS if name in fields}
        folder = record.folder
        if folder is not None and folder.path is not None:
            payload["folderKey"] = path_key(folder.path)
        elif folder is not None and folder.id is not None:
            if self.lookups.folder.by_id(folder.id) is None:
                outcome.problems.append(not_found("folder", f"{path}.folder", folder.id))
                return None
            payload["folderId"] = folder.id.hex
        elif "folder" in fields:
            payload["folderId"] = None
        return payload

    # -- custom entities ------------------------------------------------------------------------------
    def want_custom(self, name: str, items: Iterable[Any]) -> None:
        self.lookups.declarations.want([name])
        self.lookups.custom_entity.want(ids=[custom_record_id(item) for item in items])

    def custom_entity(self, name: str, raw: Any, path: str) -> RecordOutcome:
        """A root record of a custom entity: with the id of a record that exists, an update of the fields it
        carries (each replaces the field it names); otherwise a create, with the given id or a new one."""
        self.lookups.begin()
        outcome = RecordOutcome(name, path)
        found = self._custom_record(outcome, name, raw, path, root=True)
        if found is not None and found[1] is not None:
            staged = found[1]
            outcome.id, outcome.action = staged.entity_id, staged.action
            self._stage(outcome, self.lookups.custom_entity, staged)
        return self._finish(outcome)

    def _custom_record(
        self,
        outcome: RecordOutcome,
        name: str,
        raw: Any,
        path: str,
        *,
        root: bool,
        default_id: uuid.UUID | None = None,
    ) -> tuple[uuid.UUID, StagedRecord | None] | None:
        """The record to stage for one custom entity item, with its id (``default_id`` when it names none);
        nested ``{"id"}`` alone names a record to link and stages nothing. None when the item has a
        problem."""
        declared = self.lookups.declarations.get(name)
        if declared is None:
            message = f"Custom entity {name!r} is not declared"
            outcome.problems.append(error("CUSTOM_ENTITY_UNKNOWN", message, path))
            return None
        if not isinstance(raw, dict):
            outcome.problems.append(error("INVALID_FIELD", "A custom entity record must be an object", path))
            return None
        data = dict(raw)
        given = data.pop("id", None)
        try:
            record_id = parse_id(given) if given is not None else None
        except ValueError as exc:
            outcome.problems.append(error("INVALID_FIELD", str(exc), f"{path}.id"))
            return None
        try:
            plain_json(data)
        except ValueError as exc:
            outcome.problems.append(error("INVALID_FIELD", str(exc), path))
            return None
        known = self.lookups.custom_entity.by_id(record_id) if record_id is not None else None
        record_id = record_id or default_id
        if known is not None and known.key != name:
            message = f"ID {known.id.hex} is a record of custom entity {known.key!r}"
            outcome.problems.append(error("INVALID_FIELD", message, f"{path}.id"))
            return None
        if not root and not data and record_id is not None:
            # A nested {"id"} names a record to link: one in the catalog or staged in the import.
            if known is None:
                outcome.problems.append(not_found("custom_entity", path, record_id))
                return None
            return known.id, None
        creating = known is None or (known.staged and known.creating)
        problems = [
            error("INVALID_FIELD", message, f"{path}.{where}" if where else path)
            for where, message in schema_problems(declared.fields_schema, data, partial=not creating)
        ]
        if problems:
            outcome.problems.extend(problems)
            return None
        action = RecordAction.CREATE if creating else RecordAction.UPDATE
        staged = StagedRecord(
            Operation.UPSERT, "custom_entity", record_id or new_id(), action, name, root, path,
            {"type": name, "data": data},
        )  # fmt: skip
        return staged.entity_id, staged

    def _product_extensions(
        self, outcome: RecordOutcome, staged: StagedRecord, extensions: dict[str, Any], path: str
    ) -> list[str]:
        """Stage the custom entity records nested in a product (written before it) and return the ids of
        the records to link it to."""
        record_ids: list[str] = []
        for name, value in extensions.items():
            extension_path = f"{path}.extensions.{name}"
            declared = self.lookups.declarations.get(name)
            if declared is not None and declared.product_relation == "none":
                message = f"Custom entity {name!r} is not related to products"
                outcome.problems.append(error("INVALID_FIELD", message, extension_path))
                continue
            items = value if isinstance(value, list) else [value]
            if declared is not None and declared.product_relation == "one" and len(items) > 1:
                message = f"A product has at most one {name!r} record"
                outcome.problems.append(error("INVALID_FIELD", message, extension_path))
                continue
            for index, item in enumerate(items):
                item_path = f"{extension_path}.{index}" if isinstance(value, list) else extension_path
                # Without an id, a nested record's id follows from its product, entity and position, so
                # that pushing the product again (a retry, or a later import) writes the same record.
                default_id = uuid.uuid5(staged.entity_id, f"{name}{CATEGORY_PATH_SEPARATOR}{index}")
                found = self._custom_record(outcome, name, item, item_path, root=False, default_id=default_id)
                if found is None:
                    continue
                record_id, nested = found
                if nested is not None:
                    self._stage(outcome, self.lookups.custom_entity, nested)
                    if nested.action is RecordAction.CREATE:
                        staged.refs.append(Reference("custom_entity", item_path, id=record_id, nested=True))
                else:
                    known = self.lookups.custom_entity.by_id(record_id)
                    if known is not None and known.creating:
                        staged.refs.append(Reference("custom_entity", item_path, id=record_id))
                if record_id.hex not in record_ids:
                    record_ids.append(record_id.hex)
        return record_ids

    def delete_custom(self, name: str, raw: Any, path: str) -> RecordOutcome:
        """A queued deletion of a custom entity record, named by its id (``"…"`` or ``{"id"}``)."""
        outcome = RecordOutcome(name, path)
        if self.lookups.declarations.get(name) is None:
            message = f"Custom entity {name!r} is not declared"
            outcome.problems.append(error("CUSTOM_ENTITY_UNKNOWN", message, path))
            return outcome
        record_id = custom_record_id(raw)
        if record_id is None:
            message = 'A custom entity record to delete is named by its id ("…" or {"id": "…"})'
            outcome.problems.append(error("INVALID_FIELD", message, path))
            return outcome
        known = self.lookups.custom_entity.by_id(record_id)
        if known is None or known.key != name:
            outcome.problems.append(not_found("custom_entity", path, record_id))
            return outcome
        outcome.id, outcome.action = known.id, RecordAction.DELETE
        deletion = StagedRecord(
            Operation.DELETE, "custom_entity", known.id, RecordAction.DELETE, name, True, path, {}
        )
        outcome.staged.append(deletion)
        return outcome

    # -- deletes and unassigns ------------------------------------------------------------------------
    def delete(self, entity: str, item: Any, path: str) -> RecordOutcome:
        """A queued deletion of something that exists in the catalog or is staged in the import."""
        outcome = RecordOutcome(entity, path)
        lookup = self.lookups.of(entity)
        entity_id, key = delete_identity(entity, item)
        known = lookup.find(entity_id, key)
        if known is None:
            outcome.problems.append(not_found(entity, path, entity_id, key))
            return outcome
        outcome.id, outcome.action = known.id, RecordAction.DELETE
        outcome.staged.append(
            StagedRecord(Operation.DELETE, entity, known.id, RecordAction.DELETE, known.key, True, path, {})
        )
        return outcome

    def unassign(self, item: ProductUnassign, path: str) -> RecordOutcome:
        outcome = RecordOutcome("product", path)
        known = self.lookups.product.find(item.id, item.product_number if item.id is None else None)
        if known is None:
            what = f"ID {item.id.hex}" if item.id else item.product_number
            outcome.problems.append(error("PRODUCT_NOT_FOUND", f"Product {what} not found", path))
            return outcome
        payload: dict[str, Any] = {
            "mediaIds": [],
            "mediaUrls": [],
            "mediaFilenames": [],
            "categoryIds": [],
            "properties": option_keys(item.properties or ()),
        }
        for index, media in enumerate(item.media or ()):
            if media.filename is not None:
                payload["mediaFilenames"].append(media.filename)
            elif media.url is not None:
                payload["mediaUrls"].append(media.url)
            else:
                assert media.id is not None
                if self.lookups.media.by_id(media.id) is None:
                    outcome.problems.append(
                        error(
                            "MEDIA_NOT_FOUND", f"Media ID {media.id.hex} not found", f"{path}.media.{index}"
                        )
                    )
                    continue
                payload["mediaIds"].append(media.id.hex)
        for index, category in enumerate(item.categories or ()):
            found = self.lookups.category.find(
                category.id, path_key(category.path) if category.path else None
            )
            if found is None:
                what = f"ID {category.id.hex}" if category.id else display_path(category.path or [])
                outcome.problems.append(
                    error("CATEGORY_NOT_FOUND", f"Category {what} not found", f"{path}.categories.{index}")
                )
                continue
            payload["categoryIds"].append(found.id.hex)
        if outcome.rejected:
            return outcome
        outcome.id, outcome.action = known.id, RecordAction.UNASSIGN
        outcome.staged.append(
            StagedRecord(
                Operation.UNASSIGN, "product", known.id, RecordAction.UNASSIGN, known.key, True, path, payload
            )
        )
        return outcome

    def want_delete(self, entity: str, item: Any) -> None:
        entity_id, key = delete_identity(entity, item)
        self.lookups.of(entity).want(ids=[entity_id], keys=[key])


# What each kind of root record may ask the lookups for (``Flattener.want``).
RECORD_WANTS: dict[str, Callable[[Flattener, Any], None]] = {
    "tax": Flattener._want_tax,
    "category": Flattener._want_category,
    "media": Flattener._want_media,
    "product": Flattener._want_product,
}


def delete_identity(entity: str, item: Any) -> tuple[uuid.UUID | None, str | None]:
    """The id or natural key a delete item names."""
    if isinstance(item, uuid.UUID):
        return item, None
    entity_id = getattr(item, "id", None)
    if entity_id is not None:
        return entity_id, None
    if entity == "product":
        return None, item.product_number
    if entity == "category":
        return None, path_key(item.path)
    if entity == "media":
        return None, item.url
    return None, item.name


def custom_record_id(item: Any) -> uuid.UUID | None:
    """The id a custom entity item names (a string, or an object's ``id``), when it is a valid one."""
    given = item.get("id") if isinstance(item, dict) else item
    try:
        return parse_id(given) if isinstance(given, str) else None
    except ValueError:
        return None


MEDIA_FIELDS = ("url", "title", "alt", "filename")


def option_keys(options: Iterable[OptionRef]) -> list[str]:
    """Property options as ``group␟option`` keys (names hold no control characters), without repeats."""
    return list(dict.fromkeys(path_key([option.group, option.option]) for option in options))


DELETE_COLLECTIONS = {"products": "product", "categories": "category", "media": "media", "taxes": "tax"}
