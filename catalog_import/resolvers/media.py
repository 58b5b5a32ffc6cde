"""Media by id or by the URL they were imported from: one URL is one media, downloaded once."""

import uuid

from sqlalchemy import or_, select

from catalog_import.models import Media
from catalog_import.resolvers.base import KeyQuery, Lookup
from catalog_import.sql import any_text, any_uuid


class MediaLookup(Lookup):
    entity = "media"

    def catalog_query(self, keys: list[str], ids: list[uuid.UUID]) -> KeyQuery:
        return select(Media.id, Media.source_url).where(
            or_(Media.source_url == any_text(keys), Media.id == any_uuid(ids))
        )
