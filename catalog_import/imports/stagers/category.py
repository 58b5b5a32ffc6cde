"""Categories: identified by id or by path (the parent's path and the name); a create needs a name. A
category may name its parent by path or id, and list products."""

from catalog_import.imports.records import CategoryRecord, CategoryRef
from catalog_import.imports.stagers.base import ModelStager, RecordOutcome, Staging
from catalog_import.models import RecordAction
from catalog_import.models.payloads import CategoryPayload
from catalog_import.problems import error
from catalog_import.resolvers.base import Known
from catalog_import.resolvers.category import path_key, path_of


class CategoryStager(ModelStager[CategoryRecord]):
    entity = "category"
    model = CategoryRecord

    def want(self, staging: Staging, record: CategoryRecord) -> None:
        category = staging.lookups.category
        category.want_id(record.id)
        parent_path = parent_path_of(record)
        if parent_path is not None and record.name is not None:
            category.want_key(path_key([*parent_path, record.name]))
        elif record.parent is None and record.name is not None:
            category.want_key(record.name)
        if parent_path is not None:
            category.want_key(path_key(parent_path))
        if isinstance(record.parent, CategoryRef):
            category.want_id(record.parent.id)
        for product in record.products or ():
            staging.lookups.product.want_id(product.id)
            staging.lookups.product.want_key(product.product_number)

    def stage(self, staging: Staging, record: CategoryRecord, path: str) -> RecordOutcome:
        outcome = staging.begin(self.entity, path)
        lookup = staging.lookups.category
        parent_path = parent_path_of(record)
        parent: Known | None = None
        parent_pending = False
        if isinstance(record.parent, CategoryRef) and record.parent.id is not None:
            parent = lookup.by_id(record.parent.id)
            if parent is None and not staging.defer_references:
                outcome.problems.append(
                    error(
                        "CATEGORY_NOT_FOUND",
                        f"Category ID {record.parent.id.hex} not found",
                        f"{path}.parent",
                    )
                )
                return staging.finish(outcome)
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
            return staging.finish(outcome)

        key = path_key(own_path) if own_path is not None else None
        identity = staging.identify(
            outcome,
            lookup,
            record.id,
            key,
            "name",
            lambda: [] if record.name else ["name"],
            "DUPLICATE_CATEGORY_PATH",
        )
        if identity is None:
            return staging.finish(outcome)
        fields = record.model_fields_set
        payload: CategoryPayload = {}
        if "name" in fields:
            payload["name"] = record.name
        if "active" in fields and record.active is not None:
            payload["active"] = record.active
        if "description" in fields:
            payload["description"] = record.description
        staged = staging.root(outcome, identity, key, payload)
        if record.parent is not None:
            parent_ref_id = record.parent.id if isinstance(record.parent, CategoryRef) else None
            payload["parentId"] = None
            if parent is not None or parent_pending:
                resolved = staging.reference(
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
            payload["productIds"] = staging.references(
                outcome,
                staged,
                staging.lookups.product,
                ((ref.id, ref.product_number if ref.id is None else None) for ref in record.products),
                f"{path}.products",
                "productIds",
            )
        if not outcome.rejected:
            staging.settle(outcome, lookup, staged)
        return staging.finish(outcome)


def parent_path_of(record: CategoryRecord) -> list[str] | None:
    """The parent's path, when the record names its parent by path."""
    if isinstance(record.parent, list):
        return record.parent
    if isinstance(record.parent, CategoryRef) and record.parent.path is not None:
        return record.parent.path
    return None
