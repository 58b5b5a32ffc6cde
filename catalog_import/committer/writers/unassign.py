"""Remove product links named by ``record/unassign``: media (by id, URL or file name) and categories."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from catalog_import.committer.writers.base import ClaimedRecord, Problems, WriteContext, ids_of, run

UNASSIGN_MEDIA = """
DELETE FROM product_media pm
USING import_records r, media m
WHERE r.record_id = ANY(:ids) AND pm.product_id = r.entity_id AND m.id = pm.media_id
  AND (r.payload->'mediaIds' ? replace(m.id::text, '-', '')
       OR r.payload->'mediaUrls' ? m.source_url
       OR r.payload->'mediaFilenames' ? m.filename)
"""

UNASSIGN_CATEGORIES = """
DELETE FROM product_categories pc
USING import_records r
WHERE r.record_id = ANY(:ids) AND pc.product_id = r.entity_id
  AND r.payload->'categoryIds' ? replace(pc.category_id::text, '-', '')
"""


async def unassign_products(
    session: AsyncSession, records: Sequence[ClaimedRecord], context: WriteContext
) -> Problems:
    ids = ids_of(records)
    await run(session, UNASSIGN_MEDIA, ids)
    await run(session, UNASSIGN_CATEGORIES, ids)
    return {}
