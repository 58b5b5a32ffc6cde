"""Write products with their prices and their category and media links, set-based.

Updates change only the fields a record carries and leave identical rows alone (no rewrite, no dead
tuples). Prices are upserted per currency; category and media links given are added (links are removed
only by ``record/unassign``)."""

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
)

CHECKS = """
SELECT r.record_id, 'PRODUCT_NOT_FOUND', 'ID ' || replace(r.entity_id::text, '-', '') || ' not found'
FROM import_records r
WHERE r.record_id = ANY(:ids) AND r.action = 'update'
  AND NOT EXISTS (SELECT 1 FROM products p WHERE p.id = r.entity_id)
UNION ALL
SELECT r.record_id, 'DUPLICATE_PRODUCT_NUMBER',
       'Product number ' || p.product_number || ' already belongs to product '
       || replace(p.id::text, '-', '')
FROM import_records r
JOIN products p ON p.product_number = r.payload->>'productNumber' AND p.id <> r.entity_id
WHERE r.record_id = ANY(:ids)
UNION ALL
SELECT r.record_id, 'TAX_NOT_FOUND', 'Tax ID ' || replace(r.payload->>'taxId', '-', '') || ' not found'
FROM import_records r
WHERE r.record_id = ANY(:ids) AND r.payload->>'taxId' IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM taxes t WHERE t.id = (r.payload->>'taxId')::uuid)
"""

NEW_VALUES = """
    coalesce(r.payload->>'productNumber', p.product_number),
    coalesce(r.payload->>'name', p.name),
    CASE WHEN r.payload ? 'description' THEN r.payload->>'description' ELSE p.description END,
    coalesce((r.payload->>'active')::boolean, p.active),
    coalesce((r.payload->>'stock')::integer, p.stock),
    coalesce((r.payload->>'taxId')::uuid, p.tax_id),
    CASE WHEN r.payload ? 'customFields' THEN r.payload->'customFields' ELSE p.custom_fields END
"""

UPDATE = f"""
UPDATE products p
SET (product_number, name, description, active, stock, tax_id, custom_fields) = ({NEW_VALUES}),
    updated_at = now()
FROM import_records r
WHERE r.record_id = ANY(:ids) AND p.id = r.entity_id
  AND (p.product_number, p.name, p.description, p.active, p.stock, p.tax_id, p.custom_fields)
      IS DISTINCT FROM ({NEW_VALUES})
"""

INSERT = """
INSERT INTO products (id, product_number, name, description, active, stock, tax_id, custom_fields)
SELECT r.entity_id, r.payload->>'productNumber', r.payload->>'name', r.payload->>'description',
       coalesce((r.payload->>'active')::boolean, true), coalesce((r.payload->>'stock')::integer, 0),
       (r.payload->>'taxId')::uuid, r.payload->'customFields'
FROM import_records r
WHERE r.record_id = ANY(:ids) AND r.action = 'create'
  AND NOT EXISTS (SELECT 1 FROM products p WHERE p.id = r.entity_id)
"""

PRICES = """
INSERT INTO product_prices AS pp (product_id, currency_id, gross, net, linked)
SELECT r.entity_id, (price->>'currencyId')::uuid, (price->>'gross')::numeric, (price->>'net')::numeric,
       (price->>'linked')::boolean
FROM import_records r CROSS JOIN LATERAL jsonb_array_elements(r.payload->'prices') AS price
WHERE r.record_id = ANY(:ids)
ON CONFLICT (product_id, currency_id) DO UPDATE
SET gross = excluded.gross, net = excluded.net, linked = excluded.linked
WHERE (pp.gross, pp.net, pp.linked) IS DISTINCT FROM (excluded.gross, excluded.net, excluded.linked)
"""

CATEGORIES = """
INSERT INTO product_categories (product_id, category_id)
SELECT r.entity_id, listed.category_id::uuid
FROM import_records r
CROSS JOIN LATERAL jsonb_array_elements_text(r.payload->'categoryIds') AS listed(category_id)
WHERE r.record_id = ANY(:ids)
ON CONFLICT DO NOTHING
"""

# Categories of the same import that list these products and were written before them (a category and
# a product that name each other are ordered product-after-category; the category's side is added here).
LISTED_BY_CATEGORIES = """
WITH batch AS (
    SELECT import_id, replace(entity_id::text, '-', '') AS product_hex, entity_id
    FROM import_records WHERE record_id = ANY(:ids)
)
INSERT INTO product_categories (product_id, category_id)
SELECT batch.entity_id, c.entity_id
FROM import_records c
CROSS JOIN LATERAL jsonb_array_elements_text(c.payload->'productIds') AS listed(product_hex)
JOIN batch ON batch.product_hex = listed.product_hex
WHERE c.import_id = (SELECT import_id FROM batch LIMIT 1) AND c.entity = 'category'
  AND c.operation = 'upsert' AND c.state = 'written' AND c.payload ? 'productIds'
ON CONFLICT DO NOTHING
"""

MEDIA = """
INSERT INTO product_media AS pm (product_id, media_id, position)
SELECT r.entity_id, m.id, listed.position - 1
FROM import_records r
CROSS JOIN LATERAL jsonb_array_elements_text(r.payload->'mediaIds') WITH ORDINALITY
    AS listed(media_id, position)
-- Media skipped in this import (URL upload disabled) do not exist: the product is linked to the others.
JOIN media m ON m.id = listed.media_id::uuid
WHERE r.record_id = ANY(:ids)
ON CONFLICT (product_id, media_id) DO UPDATE SET position = excluded.position
WHERE pm.position IS DISTINCT FROM excluded.position
"""


async def write_products(
    session: AsyncSession, records: Sequence[ClaimedRecord], context: WriteContext
) -> Problems:
    problems = problems_by_record(records, await rows(session, CHECKS, ids_of(records)))
    ids = ids_of(records, exclude=problems)
    if not ids:
        return problems
    await run(session, UPDATE, ids)
    await run(session, INSERT, ids)
    await run(session, PRICES, ids)
    await run(session, CATEGORIES, ids)
    await run(session, LISTED_BY_CATEGORIES, ids)
    await run(session, MEDIA, ids)
    return problems
