"""Write custom entity records, link products to them, and delete them, set-based.

A create inserts the record; an update replaces the fields it carries (``data || given``) and leaves
the others; an identical record is not rewritten. Products are linked by the product writer (records nested
in a product are written before it); a product keeps one record of an entity declared with the product
relation ``one``: linking a new one drops the link to the previous one (the record itself stays)."""

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

CHECKS = """
SELECT r.record_id, 'CUSTOM_ENTITY_NOT_FOUND',
       'Custom entity record ID ' || replace(r.entity_id::text, '-', '') || ' not found'
FROM import_records r
WHERE r.record_id = ANY(:ids) AND r.action = 'update'
  AND NOT EXISTS (SELECT 1 FROM custom_entity_records c WHERE c.id = r.entity_id)
UNION ALL
SELECT r.record_id, 'CUSTOM_ENTITY_UNKNOWN', 'Custom entity ' || (r.payload->>'type') || ' is not declared'
FROM import_records r
WHERE r.record_id = ANY(:ids)
  AND NOT EXISTS (SELECT 1 FROM custom_entity_types t WHERE t.name = r.payload->>'type')
UNION ALL
SELECT r.record_id, 'INVALID_FIELD',
       'ID ' || replace(c.id::text, '-', '') || ' is a record of custom entity ' || c.type_name
FROM import_records r JOIN custom_entity_records c ON c.id = r.entity_id
WHERE r.record_id = ANY(:ids) AND c.type_name <> r.payload->>'type'
"""

UPSERT = """
INSERT INTO custom_entity_records AS c (id, type_name, data)
SELECT r.entity_id, r.payload->>'type', r.payload->'data'
FROM import_records r
WHERE r.record_id = ANY(:ids)
ORDER BY r.entity_id
ON CONFLICT (id) DO UPDATE SET data = c.data || excluded.data, updated_at = now()
WHERE c.data IS DISTINCT FROM c.data || excluded.data
"""

DELETE = """
DELETE FROM custom_entity_records c USING import_records r
WHERE r.record_id = ANY(:ids) AND c.id = r.entity_id
"""

# The records a product of the batch names in ``customEntityIds`` replace its links to other records of
# the same entity when that entity allows one per product.
DROP_REPLACED_LINKS = touching_products("""
DELETE FROM product_custom_entities l
USING import_records r, custom_entity_records old, custom_entity_types t
WHERE r.record_id = ANY(:ids) AND r.payload ? 'customEntityIds' AND l.product_id = r.entity_id
  AND old.id = l.record_id AND t.name = old.type_name AND t.product_relation = 'one'
  AND NOT r.payload->'customEntityIds' ? replace(old.id::text, '-', '')
  AND EXISTS (
      SELECT 1 FROM jsonb_array_elements_text(r.payload->'customEntityIds') AS listed(record_hex)
      JOIN custom_entity_records n ON n.id = listed.record_hex::uuid
      WHERE n.type_name = old.type_name)
RETURNING l.product_id
""")

LINKS = touching_products("""
INSERT INTO product_custom_entities (product_id, record_id)
SELECT r.entity_id, c.id
FROM import_records r
CROSS JOIN LATERAL jsonb_array_elements_text(r.payload->'customEntityIds') AS listed(record_hex)
JOIN custom_entity_records c ON c.id = listed.record_hex::uuid
WHERE r.record_id = ANY(:ids)
ON CONFLICT DO NOTHING
RETURNING product_id
""")


async def write_custom_entities(
    session: AsyncSession, records: Sequence[ClaimedRecord], context: WriteContext
) -> Problems:
    problems = problems_by_record(records, await rows(session, CHECKS, ids_of(records)))
    ids = ids_of(records, exclude=problems)
    if ids:
        await run(session, UPSERT, ids)
    return problems


async def delete_custom_entities(
    session: AsyncSession, records: Sequence[ClaimedRecord], context: WriteContext
) -> Problems:
    await run(session, DELETE, ids_of(records))
    return {}


async def link_custom_entities(session: AsyncSession, ids: Sequence[int]) -> None:
    """Link the products of a batch (staged record ids) to the custom entity records they name."""
    await run(session, DROP_REPLACED_LINKS, ids)
    await run(session, LINKS, ids)
