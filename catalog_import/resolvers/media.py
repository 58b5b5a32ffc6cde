"""Media by id or by the URL they were imported from: one URL is one media, downloaded once."""

from catalog_import.models import Media
from catalog_import.resolvers.base import Lookup


class MediaLookup(Lookup):
    entity = "media"

    catalog_key = Media.__table__.c.source_url
