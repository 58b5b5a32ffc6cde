"""Write products with their prices, their category, media and property links, and the options of
variants, set-based.

Updates change only the fields a record carries and leave identical rows alone (no rewrite, no dead
tuples). Prices are upserted per currency; category, media and property links given are added (links are
removed only by ``record/unassign``); a variant's options given replace its options. A variant created
without a name, tax or prices takes its parent's. Property groups and options named by products are
created when missing."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from catalog_import.committer.writers.base import (
    ClaimedRecord,
    Problems,
    WriteContext,
    adopt,
    ids_of,
    problems_by_record,
    rows,
    run,
    touching_products,
)
from catalog_import.committer.writers.custom import link_custom_entities
from catalog_import.models import in_done_batch

CHECKS = """
SELECT r.record_id, 'PRODUCT_NOT_FOUND', 'ID ' || replace(r.entity_id::text, '-', '') || ' not found'
FROM import_records r
WHERE r.record_id = ANY(:ids) AND r.action = 'update'
  AND NOT EXISTS (SELECT 1 FROM products p WHERE p.id = r.entity_id)
UNION ALL
SELECT r.record_id,
       CASE WHEN parent.id IS NULL THEN 'PRODUCT_NOT_FOUND' ELSE 'INVALID_FIELD' END,
       CASE WHEN parent.id IS NULL
            THEN 'Parent product ID ' || replace(r.payload->>'parentId', '-', '') || ' not found'
            ELSE 'Product ' || parent.product_number || ' is a variant itself' END
FROM import_records r
LEFT JOIN LATERAL (
    SELECT p.id, p.product_number, p.parent_id FROM products p
    WHERE p.id = (r.payload->>'parentId')::uuid LIMIT 1
) AS parent ON true
WHERE r.record_id = ANY(:ids) AND r.payload->>'parentId' IS NOT NULL
  AND (parent.id IS NULL OR parent.parent_id IS NOT NULL)
UNION ALL
SELECT r.record_id, 'TAX_NOT_FOUND', 'Tax ID ' || replace(r.payload->>'taxId', '-', '') || ' not found'
FROM import_records r
WHERE r.record_id = ANY(:ids) AND r.payload->>'taxId' IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM taxes t WHERE t.id = (r.payload->>'taxId')::uuid)
"""

# The numbers of the batch that another product has. Lateral lookups by index, one per record: a join
# would let a stale row estimate of a growing products table pick a scan of all of it for every batch.
TAKEN_NUMBERS = """
SELECT r.record_id, r.entity_id, p.id, p.product_number,
       r.action = 'create' AND r.payload ? 'adoptByNumber'
       AND NOT EXISTS (SELECT 1 FROM products x WHERE x.id = r.entity_id) AS adoptable
FROM import_records r
CROSS JOIN LATERAL (
    SELECT p.id, p.product_number FROM products p
    WHERE p.product_number = r.payload->>'productNumber' AND p.id <> r.entity_id LIMIT 1
) AS p
WHERE r.record_id = ANY(:ids) AND r.payload ? 'productNumber'
"""

NEW_VALUES = """
    coalesce(r.payload->>'productNumber', p.product_number),
    coalesce(r.payload->>'name', p.name),
    CASE WHEN r.payload ? 'description' THEN r.payload->>'description' ELSE p.description END,
    coalesce((r.payload->>'active')::boolean, p.active),
    coalesce((r.payload->>'stock')::integer, p.stock),
    coalesce((r.payload->>'taxId')::uuid, p.tax_id),
    CASE WHEN r.payload ? 'customFields' THEN r.payload->'customFields' ELSE p.custom_fields END,
    CASE WHEN r.payload ? 'parentId' THEN (r.payload->>'parentId')::uuid ELSE p.parent_id END
"""

UPDATE = f"""
UPDATE products p
SET (product_number, name, description, active, stock, tax_id, custom_fields, parent_id) = ({NEW_VALUES}),
    updated_at = now()
FROM import_records r
WHERE r.record_id = ANY(:ids) AND p.id = r.entity_id
  AND (p.product_number, p.name, p.description, p.active, p.stock, p.tax_id, p.custom_fields, p.parent_id)
      IS DISTINCT FROM ({NEW_VALUES})
"""

INSERT = """
INSERT INTO products (id, product_number, name, description, active, stock, tax_id, custom_fields, parent_id)
SELECT r.entity_id, r.payload->>'productNumber', coalesce(r.payload->>'name', parent.name),
       coalesce(r.payload->>'description', parent.description),
       coalesce((r.payload->>'active')::boolean, parent.active, true),
       coalesce((r.payload->>'stock')::integer, 0),
       coalesce((r.payload->>'taxId')::uuid, parent.tax_id), r.payload->'customFields', parent.id
FROM import_records r
-- Lookups by index, one per record, as in CHECKS: joins planned with a stale estimate of the growing
-- products table scan all of it for every batch.
LEFT JOIN LATERAL (
    SELECT p.id, p.name, p.description, p.active, p.tax_id FROM products p
    WHERE p.id = (r.payload->>'parentId')::uuid LIMIT 1
) AS parent ON true
LEFT JOIN LATERAL (SELECT true AS found FROM products p WHERE p.id = r.entity_id LIMIT 1) AS existing ON true
WHERE r.record_id = ANY(:ids) AND r.action = 'create' AND existing.found IS NULL
RETURNING id
"""

# A variant created without prices starts with its parent's.
PARENT_PRICES = """
INSERT INTO product_prices (product_id, currency_id, gross, net, linked)
SELECT r.entity_id, pp.currency_id, pp.gross, pp.net, pp.linked
FROM import_records r JOIN product_prices pp ON pp.product_id = (r.payload->>'parentId')::uuid
WHERE r.record_id = ANY(:ids) AND r.action = 'create' AND NOT r.payload ? 'prices'
ON CONFLICT DO NOTHING
"""

# Property groups and options named in the batch (``group␟option`` keys in ``properties`` and
# ``options``), created when missing, in name order so that concurrent batches take their locks alike.
NAMED_OPTIONS = """
SELECT DISTINCT split_part(named.key, chr(31), 1) AS group_name, split_part(named.key, chr(31), 2) AS name
FROM import_records r
CROSS JOIN LATERAL jsonb_array_elements_text(
    coalesce(r.payload->'properties', '[]') || coalesce(r.payload->'options', '[]')) AS named(key)
WHERE r.record_id = ANY(:ids)
"""

CREATE_GROUPS = f"""
INSERT INTO property_groups (id, name)
SELECT gen_random_uuid(), group_name FROM ({NAMED_OPTIONS}) AS named
GROUP BY group_name ORDER BY group_name
ON CONFLICT (name) DO NOTHING
"""

CREATE_OPTIONS = f"""
INSERT INTO property_options (id, group_id, name)
SELECT gen_random_uuid(), g.id, named.name
FROM ({NAMED_OPTIONS}) AS named JOIN property_groups g ON g.name = named.group_name
ORDER BY g.name, named.name
ON CONFLICT (group_id, name) DO NOTHING
"""


def option_links(field: str, table: str) -> str:
    """Link the products of the batch to the options named in their payload ``field``."""
    return f"""
INSERT INTO {table} (product_id, option_id)
SELECT r.entity_id, o.id
FROM import_records r
CROSS JOIN LATERAL jsonb_array_elements_text(r.payload->'{field}') AS named(key)
JOIN property_groups g ON g.name = split_part(named.key, chr(31), 1)
JOIN property_options o ON o.group_id = g.id AND o.name = split_part(named.key, chr(31), 2)
WHERE r.record_id = ANY(:ids)
ON CONFLICT DO NOTHING
RETURNING product_id
"""


# What the batch's payloads carry beyond a product's own fields, looked up once: a statement with nothing
# to write is not run (each would take every record's payload apart to find nothing).
BATCH_CARRIES = """
SELECT coalesce(bool_or(r.action = 'create' AND r.payload ? 'parentId' AND NOT r.payload ? 'prices'), false),
       coalesce(bool_or(r.payload ? 'categoryIds'), false),
       coalesce(bool_or(r.payload ? 'mediaIds'), false),
       coalesce(bool_or(r.payload ? 'customEntityIds'), false),
       coalesce(bool_or(r.payload ? 'properties' OR r.payload ? 'options'), false)
FROM import_records r
WHERE r.record_id = ANY(:ids)
"""


PROPERTIES = touching_products(option_links("properties", "product_properties"))
OPTIONS = touching_products(option_links("options", "product_options"))

# Options given to a variant replace those it had.
DROP_OTHER_OPTIONS = touching_products("""
DELETE FROM product_options po
USING import_records r, property_options o, property_groups g
WHERE r.record_id = ANY(:ids) AND r.payload ? 'options' AND po.product_id = r.entity_id
  AND o.id = po.option_id AND g.id = o.group_id
  AND NOT r.payload->'options' ? (g.name || chr(31) || o.name)
RETURNING po.product_id
""")

# Links and prices of products the batch created cannot conflict with rows of their own: they are inserted
# without the conflict check each row would otherwise pay. Those of other products are upserted.
PRICE_ROWS = """
SELECT r.entity_id, (price->>'currencyId')::uuid, (price->>'gross')::numeric, (price->>'net')::numeric,
       (price->>'linked')::boolean
FROM import_records r CROSS JOIN LATERAL jsonb_array_elements(r.payload->'prices') AS price
WHERE r.record_id = ANY(:ids)
"""

NEW_PRICES = f"INSERT INTO product_prices (product_id, currency_id, gross, net, linked) {PRICE_ROWS}"

PRICES = touching_products(f"""
INSERT INTO product_prices AS pp (product_id, currency_id, gross, net, linked) {PRICE_ROWS}
ON CONFLICT (product_id, currency_id) DO UPDATE
SET gross = excluded.gross, net = excluded.net, linked = excluded.linked
WHERE (pp.gross, pp.net, pp.linked) IS DISTINCT FROM (excluded.gross, excluded.net, excluded.linked)
RETURNING product_id
""")

CATEGORY_ROWS = """
SELECT r.entity_id, listed.category_id::uuid
FROM import_records r
CROSS JOIN LATERAL jsonb_array_elements_text(r.payload->'categoryIds') AS listed(category_id)
WHERE r.record_id = ANY(:ids)
"""

NEW_CATEGORIES = f"INSERT INTO product_categories (product_id, category_id) {CATEGORY_ROWS}"

CATEGORIES = touching_products(f"{NEW_CATEGORIES} ON CONFLICT DO NOTHING RETURNING product_id")

# Categories of the same import that list these products and were written before them (a category and
# a product that name each other are ordered product-after-category; the category's side is added here).
LISTED_BY_CATEGORIES = touching_products(f"""
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
  AND c.operation = 'upsert' AND c.payload ? 'productIds' AND {in_done_batch("c")}
  AND NOT EXISTS (
      SELECT 1 FROM import_record_outcomes o
      WHERE o.record_id = c.record_id AND o.state IN ('failed', 'skipped'))
ON CONFLICT DO NOTHING
RETURNING product_id
""")

MEDIA_ROWS = """
SELECT r.entity_id, m.id, listed.position - 1
FROM import_records r
CROSS JOIN LATERAL jsonb_array_elements_text(r.payload->'mediaIds') WITH ORDINALITY
    AS listed(media_id, position)
-- Media skipped in this import (URL upload disabled) do not exist: the product is linked to the others.
JOIN media m ON m.id = listed.media_id::uuid
WHERE r.record_id = ANY(:ids)
"""

NEW_MEDIA = f"INSERT INTO product_media (product_id, media_id, position) {MEDIA_ROWS}"

MEDIA = touching_products(f"""
INSERT INTO product_media AS pm (product_id, media_id, position) {MEDIA_ROWS}
ON CONFLICT (product_id, media_id) DO UPDATE SET position = excluded.position
WHERE pm.position IS DISTINCT FROM excluded.position
RETURNING product_id
""")


async def adopt_or_refuse_taken_numbers(session: AsyncSession, records: Sequence[ClaimedRecord]) -> Problems:
    """A product number another product has: a create numbered without an id given adopts that product
    (another import created it meanwhile); any other record fails with ``DUPLICATE_PRODUCT_NUMBER``."""
    duplicates: list[tuple[int, str, str]] = []
    for record_id, staged_id, existing_id, number, adoptable in await rows(
        session, TAKEN_NUMBERS, ids_of(records)
    ):
        if adoptable:
            await adopt(session, record_id, staged_id, existing_id)
        else:
            message = f"Product number {number} already belongs to product {existing_id.hex}"
            duplicates.append((record_id, "DUPLICATE_PRODUCT_NUMBER", message))
    return problems_by_record(records, duplicates)


async def write_products(
    session: AsyncSession, records: Sequence[ClaimedRecord], context: WriteContext
) -> Problems:
    problems = await adopt_or_refuse_taken_numbers(session, records)
    checked = ids_of(records, exclude=problems)
    for record_id, problem in problems_by_record(records, await rows(session, CHECKS, checked)).items():
        problems.setdefault(record_id, []).extend(problem)
    ids = ids_of(records, exclude=problems)
    if not ids:
        return problems
    # Products created now have nothing to update: only the others are looked up again, and a batch of
    # new products skips the update altogether (as a batch of updates skips the insert).
    creates = ids_of(records, action="create", exclude=problems)
    created_ids = {row.id for row in await rows(session, INSERT, creates)} if creates else set()
    created: list[int] = []
    existing: list[int] = []
    for record in records:
        if record.record_id not in problems:
            (created if record.entity_id in created_ids else existing).append(record.record_id)
    if existing:
        await run(session, UPDATE, existing)
    [(parent_prices, categories, media, custom_entities, named_options)] = await rows(
        session, BATCH_CARRIES, ids
    )
    for insert, upsert, carried in (
        (NEW_PRICES, PRICES, True),
        (NEW_CATEGORIES, CATEGORIES, categories),
        (NEW_MEDIA, MEDIA, media),
    ):
        if carried and created:
            await run(session, insert, created)
        if carried and existing:
            await run(session, upsert, existing)
    if parent_prices:
        await run(session, PARENT_PRICES, ids)
    if context.categories_list_products:
        await run(session, LISTED_BY_CATEGORIES, ids)
    if custom_entities:
        await link_custom_entities(session, ids)
    if named_options:
        await run(session, CREATE_GROUPS, ids)
        await run(session, CREATE_OPTIONS, ids)
        await run(session, PROPERTIES, ids)
        await run(session, DROP_OTHER_OPTIONS, ids)
        await run(session, OPTIONS, ids)
    return problems
