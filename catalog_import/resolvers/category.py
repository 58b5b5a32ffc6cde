"""Categories by id or by path (the names from the root). A path is kept as a key of its names joined by
a separator that names cannot contain."""

from collections.abc import Sequence

from catalog_import.models import Category
from catalog_import.models.catalog import CATEGORY_PATH_SEPARATOR
from catalog_import.resolvers.base import Lookup


def path_key(path: Sequence[str]) -> str:
    return CATEGORY_PATH_SEPARATOR.join(path)


def path_of(key: str) -> list[str]:
    return key.split(CATEGORY_PATH_SEPARATOR)


def display_path(path: Sequence[str]) -> str:
    return "/".join(path)


class CategoryLookup(Lookup):
    entity = "category"

    catalog_key = Category.__table__.c.path_key
