"""Taxes by id or by name."""

import uuid

from sqlalchemy import or_, select

from catalog_import.models import Tax
from catalog_import.resolvers.base import KeyQuery, Lookup
from catalog_import.sql import any_text, any_uuid


class TaxLookup(Lookup):
    entity = "tax"

    def catalog_query(self, keys: list[str], ids: list[uuid.UUID]) -> KeyQuery:
        return select(Tax.id, Tax.name).where(or_(Tax.name == any_text(keys), Tax.id == any_uuid(ids)))
