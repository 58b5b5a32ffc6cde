"""Queued deletions, run after every upsert, dependents first (products, categories, media, taxes).

Deleting a product deletes its variants, a category its subtree and its product assignments, media their
links; a tax still used by a product is not deleted (``TAX_IN_USE``). Something already gone counts as
deleted. The products that lose a category or a media this way count as changed (``updatedAt``)."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from catalog_import.committer.writers.base import (
    ClaimedRecord,
    Problems,
    WriteContext,
    ids_of,
    problems_by_record,
    rows,
    run,
    touching_products,
)

DELETE_PRODUCTS = """
DELETE FROM products p USING import_records r WHERE r.record_id = ANY(:ids) AND p.id = r.entity_id
"""

# The products that lose a category (a subtree goes with its root) or a media to the deletions: touched
# first, as their views change.
TOUCH_CATEGORIZED = touching_products("""
WITH RECURSIVE doomed AS (
    SELECT r.entity_id AS id FROM import_records r WHERE r.record_id = ANY(:ids)
  UNION
    SELECT c.id FROM categories c JOIN doomed d ON c.parent_id = d.id
)
SELECT pc.product_id FROM product_categories pc JOIN doomed d ON pc.category_id = d.id
""")

TOUCH_ILLUSTRATED = touching_products("""
SELECT pm.product_id FROM product_media pm JOIN import_records r ON pm.media_id = r.entity_id
WHERE r.record_id = ANY(:ids)
""")

DELETE_CATEGORIES = """
DELETE FROM categories c USING import_records r WHERE r.record_id = ANY(:ids) AND c.id = r.entity_id
"""

DELETE_MEDIA = """
DELETE FROM media m USING import_records r WHERE r.record_id = ANY(:ids) AND m.id = r.entity_id
RETURNING m.sha256
"""

TAXES_IN_USE = """
SELECT r.record_id, 'TAX_IN_USE',
       'Tax ' || t.name || ' is still used by ' || count(p.id) || ' product(s)'
FROM import_records r
JOIN taxes t ON t.id = r.entity_id
JOIN products p ON p.tax_id = t.id
WHERE r.record_id = ANY(:ids)
GROUP BY r.record_id, t.name
"""

DELETE_TAXES = """
DELETE FROM taxes t USING import_records r WHERE r.record_id = ANY(:ids) AND t.id = r.entity_id
"""


async def delete_products(
    session: AsyncSession, records: Sequence[ClaimedRecord], context: WriteContext
) -> Problems:
    await run(session, DELETE_PRODUCTS, ids_of(records))
    return {}


async def delete_categories(
    session: AsyncSession, records: Sequence[ClaimedRecord], context: WriteContext
) -> Problems:
    await run(session, TOUCH_CATEGORIZED, ids_of(records))
    await run(session, DELETE_CATEGORIES, ids_of(records))
    return {}


async def delete_media(
    session: AsyncSession, records: Sequence[ClaimedRecord], context: WriteContext
) -> Problems:
    await run(session, TOUCH_ILLUSTRATED, ids_of(records))
    # Their files go too once no other media uses them.
    context.touched_files.update(sha for (sha,) in await rows(session, DELETE_MEDIA, ids_of(records)) if sha)
    return {}


async def delete_taxes(
    session: AsyncSession, records: Sequence[ClaimedRecord], context: WriteContext
) -> Problems:
    problems = problems_by_record(records, await rows(session, TAXES_IN_USE, ids_of(records)))
    await run(session, DELETE_TAXES, ids_of(records, exclude=problems))
    return problems
