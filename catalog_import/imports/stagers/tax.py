"""Taxes: identified by id or by name; a create needs a name and a rate."""

from catalog_import.imports.records import TaxRecord
from catalog_import.imports.stagers.base import ModelStager, RecordOutcome, Staging
from catalog_import.models.payloads import TaxPayload


class TaxStager(ModelStager[TaxRecord]):
    entity = "tax"
    model = TaxRecord

    def want(self, staging: Staging, record: TaxRecord) -> None:
        staging.lookups.tax.want_id(record.id)
        staging.lookups.tax.want_key(record.name)

    def stage(self, staging: Staging, record: TaxRecord, path: str) -> RecordOutcome:
        outcome = staging.begin(self.entity, path)
        lookup = staging.lookups.tax
        fields = record.model_fields_set
        identity = staging.identify(
            outcome,
            lookup,
            record.id,
            record.name,
            "name",
            lambda: [
                f for f, given in (("name", record.name), ("taxRate", record.tax_rate)) if given is None
            ],
            "DUPLICATE_TAX_NAME",
        )
        if identity is not None:
            payload: TaxPayload = {}
            if "name" in fields:
                payload["name"] = record.name
            if "tax_rate" in fields and record.tax_rate is not None:
                payload["taxRate"] = str(record.tax_rate)
            root = staging.root(outcome, identity, identity.key_or_existing(record.name), payload)
            staging.settle(outcome, lookup, root)
        return staging.finish(outcome)
