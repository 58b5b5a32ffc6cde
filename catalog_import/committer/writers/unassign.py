"""Remove product links named by ``record/unassign``: media (by id, URL or file name), categories and
properties (by group and option name)."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from catalog_import.committer.writers.base import (
    ClaimedRecord,
    Problems,
    WriteContext,
    ids_of,
    run,
    touching_products,
)

UNASSIGN_MEDIA = touching_products("""
DELETE FROM product_media pm
USING import_records r, media m
WHERE r.record_id = ANY(:ids) AND pm.product_id = r.entity_id AND m.id = pm.media_id
  AND (r.payload->'mediaIds' ? replace(m.id::text, '-', '')
       OR r.payload->'mediaUrls' ? m.source_url
       OR r.payload->'mediaFilenames' ? m.filename)
RETURNING pm.product_id
""")

UNASSIGN_CATEGORIES = touching_products("""
DELETE FROM product_categories pc
USING import_records r
WHERE r.record_id = ANY(:ids) AND pc.product_id = r.entity_id
  AND r.payload->'categoryIds' ? replace(pc.category_id::text, '-', '')
RETURNING pc.product_id
""")


UNASSIGN_PROPERTIES = touching_products("""
DELETE FROM product_properties pp
USING import_records r, property_options o, property_groups g
WHERE r.record_id = ANY(:ids) AND pp.product_id = r.entity_id AND o.id = pp.option_id AND g.id = o.group_id
  AND r.payload->'properties' ? (g.name || chr(31) || o.name)
RETURNING pp.product_id
""")


async def unassign_products(
    session: AsyncSession, records: Sequence[ClaimedRecord], context: WriteContext
) -> Problems:
    ids = ids_of(records)
    await run(session, UNASSIGN_MEDIA, ids)
    await run(session, UNASSIGN_CATEGORIES, ids)
    await run(session, UNASSIGN_PROPERTIES, ids)
    return {}
