"""Media folders by id. Folders named by path need no lookup: the commit creates the ones missing."""

import uuid

from sqlalchemy import select

from catalog_import.models import MediaFolder
from catalog_import.resolvers.base import KeyQuery, Lookup
from catalog_import.sql import any_uuid


class FolderLookup(Lookup):
    entity = "folder"
    # Imports create folders through their media, never as records of their own.
    stageable = False

    def catalog_query(self, keys: list[str], ids: list[uuid.UUID]) -> KeyQuery:
        return select(MediaFolder.id, MediaFolder.path_key).where(MediaFolder.id == any_uuid(ids))
