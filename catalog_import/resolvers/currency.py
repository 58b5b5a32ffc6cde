"""Currencies by ISO 4217 code or id; every ISO currency exists from the start."""

from catalog_import.models import Currency
from catalog_import.resolvers.base import Lookup


class CurrencyLookup(Lookup):
    entity = "currency"
    stageable = False

    catalog_key = Currency.__table__.c.iso_code
