"""Products by id or by product number."""

import uuid

from sqlalchemy import or_, select

from catalog_import.models import Product
from catalog_import.resolvers.base import KeyQuery, Lookup
from catalog_import.sql import any_text, any_uuid


class ProductLookup(Lookup):
    entity = "product"

    def catalog_query(self, keys: list[str], ids: list[uuid.UUID]) -> KeyQuery:
        return select(Product.id, Product.product_number).where(
            or_(Product.product_number == any_text(keys), Product.id == any_uuid(ids))
        )
