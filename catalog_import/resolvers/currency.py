"""Currencies by ISO 4217 code or id; every ISO currency exists from the start."""

import uuid

from sqlalchemy import or_, select

from catalog_import.models import Currency
from catalog_import.resolvers.base import KeyQuery, Lookup
from catalog_import.sql import any_text, any_uuid


class CurrencyLookup(Lookup):
    entity = "currency"
    stageable = False

    def catalog_query(self, keys: list[str], ids: list[uuid.UUID]) -> KeyQuery:
        return select(Currency.id, Currency.iso_code).where(
            or_(Currency.iso_code == any_text(keys), Currency.id == any_uuid(ids))
        )
