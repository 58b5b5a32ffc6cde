"""Categories by id or by path (the names from the root). A path is kept as a key of its names joined by
a separator that names cannot contain."""

import uuid
from collections.abc import Sequence

from sqlalchemy import or_, select

from catalog_import.models import Category
from catalog_import.models.catalog import CATEGORY_PATH_SEPARATOR
from catalog_import.resolvers.base import KeyQuery, Lookup
from catalog_import.sql import any_text, any_uuid


def path_key(path: Sequence[str]) -> str:
    return CATEGORY_PATH_SEPARATOR.join(path)


def path_of(key: str) -> list[str]:
    return key.split(CATEGORY_PATH_SEPARATOR)


def display_path(path: Sequence[str]) -> str:
    return "/".join(path)


class CategoryLookup(Lookup):
    entity = "category"

    def catalog_query(self, keys: list[str], ids: list[uuid.UUID]) -> KeyQuery:
        return select(Category.id, Category.path_key).where(
            or_(Category.path_key == any_text(keys), Category.id == any_uuid(ids))
        )
