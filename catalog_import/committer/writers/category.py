"""Write categories: create them under their parent, update name, parent and flags, keep the stored paths
of moved or renamed subtrees right, and assign the products a category lists."""

from collections.abc import Sequence

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_import.committer.writers.base import (
    ClaimedRecord,
    Problems,
    WriteContext,
    adopt_existing,
    ids_of,
    problems_by_record,
    rows,
    run,
    touch_products,
)

CHECKS = """
SELECT r.record_id, 'CATEGORY_NOT_FOUND', 'ID ' || replace(r.entity_id::text, '-', '') || ' not found'
FROM import_records r
WHERE r.record_id = ANY(:ids) AND r.action = 'update'
  AND NOT EXISTS (SELECT 1 FROM categories c WHERE c.id = r.entity_id)
UNION ALL
SELECT r.record_id, 'CATEGORY_NOT_FOUND',
       'Parent category ID ' || replace(r.payload->>'parentId', '-', '') || ' not found'
FROM import_records r
WHERE r.record_id = ANY(:ids) AND r.payload->>'parentId' IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM categories p WHERE p.id = (r.payload->>'parentId')::uuid)
UNION ALL
SELECT r.record_id, 'INVALID_FIELD', 'A category cannot be moved below itself'
FROM import_records r
JOIN categories c ON c.id = r.entity_id
JOIN categories p ON p.id = (r.payload->>'parentId')::uuid
WHERE r.record_id = ANY(:ids) AND r.action = 'update' AND p.path[1:cardinality(c.path)] = c.path
"""

INSERT = """
INSERT INTO categories (id, parent_id, name, path, path_key, active, description)
SELECT r.entity_id, p.id, r.payload->>'name', coalesce(p.path, '{}') || (r.payload->>'name'),
       array_to_string(coalesce(p.path, '{}') || (r.payload->>'name'), E'\\x1f'),
       coalesce((r.payload->>'active')::boolean, true), r.payload->>'description'
FROM import_records r
LEFT JOIN categories p ON p.id = (r.payload->>'parentId')::uuid
WHERE r.record_id = ANY(:ids) AND r.action = 'create'
  AND NOT EXISTS (SELECT 1 FROM categories c WHERE c.id = r.entity_id)
"""

NEW_VALUES = """
    coalesce(r.payload->>'name', c.name),
    CASE WHEN r.payload ? 'parentId' THEN (r.payload->>'parentId')::uuid ELSE c.parent_id END,
    coalesce((r.payload->>'active')::boolean, c.active),
    CASE WHEN r.payload ? 'description' THEN r.payload->>'description' ELSE c.description END
"""

# Returns the categories whose name or parent changed: their subtree's paths are computed again.
UPDATE = f"""
UPDATE categories c
SET (name, parent_id, active, description) = ({NEW_VALUES}), updated_at = now()
FROM import_records r
WHERE r.record_id = ANY(:ids) AND c.id = r.entity_id
  AND (c.name, c.parent_id, c.active, c.description) IS DISTINCT FROM ({NEW_VALUES})
RETURNING c.id
"""

# Moves of one batch that close a circle (two categories each moved below the other): a moved category
# that finds itself among its own ancestors.
CYCLES = """
WITH RECURSIVE up(id, node) AS (
    SELECT c.id, c.parent_id FROM categories c WHERE c.id = ANY(:moved)
  UNION
    SELECT up.id, p.parent_id FROM up JOIN categories p ON p.id = up.node
)
SELECT EXISTS (SELECT 1 FROM up WHERE up.node = up.id)
"""

# The paths are computed from the topmost changed categories down, so that a category renamed or moved
# together with one of its ancestors gets its path once, from its ancestor's new path.
REPATH = """
WITH RECURSIVE changed(id) AS (
    SELECT c.id FROM categories c WHERE c.id = ANY(:moved)
  UNION
    SELECT c.id FROM categories c JOIN changed ON c.parent_id = changed.id
), tree(id, path) AS (
    SELECT c.id, coalesce(p.path, '{}') || c.name
    FROM categories c LEFT JOIN categories p ON p.id = c.parent_id
    WHERE c.id IN (SELECT id FROM changed)
      AND (c.parent_id IS NULL OR c.parent_id NOT IN (SELECT id FROM changed))
  UNION ALL
    SELECT c.id, tree.path || c.name FROM categories c JOIN tree ON c.parent_id = tree.id
)
UPDATE categories c
SET path = tree.path, path_key = array_to_string(tree.path, E'\\x1f'), updated_at = now()
FROM tree WHERE c.id = tree.id AND c.path IS DISTINCT FROM tree.path
"""

ASSIGN_PRODUCTS = """
INSERT INTO product_categories (product_id, category_id)
SELECT p.id, r.entity_id
FROM import_records r
CROSS JOIN LATERAL jsonb_array_elements_text(r.payload->'productIds') AS listed(product_id)
JOIN products p ON p.id = listed.product_id::uuid
WHERE r.record_id = ANY(:ids)
ON CONFLICT DO NOTHING
RETURNING product_id
"""


class MovesFormCycle(Exception):
    """Moves of one batch that are fine one by one put categories below themselves together."""


SAME_PATH = """
e.name = r.payload->>'name' AND e.parent_id IS NOT DISTINCT FROM (r.payload->>'parentId')::uuid
"""


async def write_categories(
    session: AsyncSession, records: Sequence[ClaimedRecord], context: WriteContext
) -> Problems:
    if len(records) == 1:
        return await write_category_batch(session, records)
    try:
        async with session.begin_nested():
            return await write_category_batch(session, records)
    except MovesFormCycle:
        # One by one, in push order: a move that would put a category below itself then fails alone.
        problems: Problems = {}
        for record in records:
            problems.update(await write_category_batch(session, [record]))
        return problems


async def write_category_batch(session: AsyncSession, records: Sequence[ClaimedRecord]) -> Problems:
    await adopt_existing(session, ids_of(records), "categories", SAME_PATH)
    problems = problems_by_record(records, await rows(session, CHECKS, ids_of(records)))
    ids = ids_of(records, exclude=problems)
    await run(session, INSERT, ids)
    moved = [row[0] for row in await rows(session, UPDATE, ids)]
    if moved:
        moved_param = bindparam("moved", type_=ARRAY(UUID(as_uuid=True)))
        if await session.scalar(text(CYCLES).bindparams(moved_param), {"moved": moved}):
            raise MovesFormCycle()
        await session.execute(text(REPATH).bindparams(moved_param), {"moved": moved})
    await touch_products(session, [row[0] for row in await rows(session, ASSIGN_PRODUCTS, ids)])
    return problems
