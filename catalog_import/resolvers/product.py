"""Products by id or by product number."""

from catalog_import.models import Product
from catalog_import.resolvers.base import Lookup


class ProductLookup(Lookup):
    entity = "product"

    catalog_key = Product.__table__.c.product_number
