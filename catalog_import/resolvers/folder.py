"""Media folders by id. Folders named by path need no lookup: the commit creates the ones missing."""

from catalog_import.models import MediaFolder
from catalog_import.resolvers.base import Lookup


class FolderLookup(Lookup):
    entity = "folder"
    # Imports create folders through their media, never as records of their own.
    stageable = False

    catalog_key = MediaFolder.__table__.c.path_key
    found_by_key = False
