"""Taxes by id or by name."""

from catalog_import.models import Tax
from catalog_import.resolvers.base import Lookup


class TaxLookup(Lookup):
    entity = "tax"

    catalog_key = Tax.__table__.c.name
