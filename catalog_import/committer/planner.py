"""Prepare a committed import for the workers, once: resolve the references that were pending at push time
(``deferReferences``), turn references into dependencies between staged records, give every record its
level, and cut each level into the batches the runners claim. Levels come from what records reference,
never from push order.

A record's dependencies sit at higher levels than the record; levels are written from the highest down
to 0. Unassigns and deletes get negative levels so that they run after every upsert, dependents first."""

import uuid
from typing import Any

import structlog
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_import.committer.failures import record_failures, skip_unneeded_nested
from catalog_import.models import DOWNLOADS_SQL, INITIAL_LEVEL_SQL, Import, ImportRecord, Operation
from catalog_import.problems import error
from catalog_import.resolvers.base import Reference, not_found
from catalog_import.resolvers.lookups import Lookups

logger = structlog.get_logger(__name__)

MAX_DEPTH = 64
PENDING_CHUNK = 1000

# Records are staged at their initial level; this puts right any staged otherwise (by an older version).
INITIAL_LEVELS = f"""
UPDATE import_records SET level = {INITIAL_LEVEL_SQL}
WHERE import_id = :import_id AND level <> {INITIAL_LEVEL_SQL}
"""  # noqa: S608 (only a constant is interpolated)

DEPENDENCIES = """
INSERT INTO import_record_dependencies (record_id, depends_on, path, nested)
SELECT r.record_id, t.record_id, min(ref->>'path'), bool_or((ref->>'nested')::boolean)
FROM import_records r
CROSS JOIN LATERAL jsonb_array_elements(r.refs) AS ref
JOIN import_records t
  ON t.import_id = r.import_id AND t.operation = 'upsert' AND t.action = 'create'
 AND t.entity = ref->>'entity' AND t.entity_id = (ref->>'id')::uuid
WHERE r.import_id = :import_id AND r.operation = 'upsert' AND r.refs <> '[]'::jsonb
  AND ref->>'id' IS NOT NULL AND NOT (ref ? 'field') AND t.record_id <> r.record_id
GROUP BY r.record_id, t.record_id
ON CONFLICT DO NOTHING
"""

# A category listing a product that itself (through its categories) depends on that category would
# close a cycle; such a link is written from the product's side instead (see the product writer).
BREAK_CATEGORY_PRODUCT_CYCLES = """
WITH RECURSIVE candidate AS (
    SELECT d.record_id AS category, d.depends_on AS product
    FROM import_record_dependencies d
    JOIN import_records c ON c.record_id = d.record_id AND c.entity = 'category'
    JOIN import_records p ON p.record_id = d.depends_on AND p.entity = 'product'
    WHERE c.import_id = :import_id
), reach(category, node) AS (
    SELECT candidate.category, d.depends_on
    FROM candidate JOIN import_record_dependencies d ON d.record_id = candidate.product
  UNION
    SELECT reach.category, d.depends_on
    FROM reach JOIN import_record_dependencies d ON d.record_id = reach.node
    WHERE reach.node <> reach.category
)
DELETE FROM import_record_dependencies d
USING candidate
WHERE d.record_id = candidate.category AND d.depends_on = candidate.product
  AND EXISTS (SELECT 1 FROM reach
              WHERE reach.category = candidate.category AND reach.node = candidate.category)
"""

CATEGORIES_LIST_PRODUCTS = """
SELECT EXISTS (
    SELECT 1 FROM import_records
    WHERE import_id = :import_id AND entity = 'category' AND operation = 'upsert' AND payload ? 'productIds'
)
"""

ANALYZE_STAGED = "ANALYZE import_records (import_id, operation, entity, entity_id, action, level)"

# A level's media settle in about this many steps: its batches of media hold a hundredth of them, or
# ``media_batch_size`` if that is more (a batch costs a few milliseconds of its own, whatever its size).
MEDIA_STEPS_PER_LEVEL = 100

# Each level cut into batches of consecutive records (in record order), leaving out what failed already:
# its media records (to download) apart from the others, in smaller batches.
CUT_BATCHES = f"""
INSERT INTO import_batches (import_id, level, media, first_record, last_record, records, state)
SELECT :import_id, level, media, min(record_id), max(record_id), count(*), 'pending'
FROM (
    SELECT r.record_id, r.level, r.media,
           (row_number() OVER (PARTITION BY r.level, r.media ORDER BY r.record_id) - 1)
           / CASE WHEN r.media
                  THEN greatest(CAST(:media_batch_size AS bigint),
                                least(CAST(:batch_size AS bigint),
                                      CAST(ceil(count(*) OVER (PARTITION BY r.level, r.media)
                                                / CAST(:media_steps AS numeric)) AS bigint)))
                  ELSE CAST(:batch_size AS bigint) END
           AS chunk
    FROM (SELECT r.*, {DOWNLOADS_SQL} AS media FROM import_records r) r
    WHERE r.import_id = :import_id AND r.level < :max_depth
      AND NOT EXISTS (SELECT 1 FROM import_record_outcomes o WHERE o.record_id = r.record_id)
) AS unsettled
GROUP BY level, media, chunk
"""  # noqa: S608 (only a constant is interpolated)

RAISE_LEVELS = """
UPDATE import_records t SET level = s.level
FROM (
    SELECT d.depends_on, max(r.level) + 1 AS level
    FROM import_record_dependencies d JOIN import_records r ON r.record_id = d.record_id
    WHERE r.import_id = :import_id
    GROUP BY d.depends_on
) s
WHERE t.record_id = s.depends_on AND t.level < s.level
"""


async def prepare_import(
    session: AsyncSession,
    import_id: uuid.UUID,
    batch_size: int,
    media_batch_size: int,
    *,
    analyze: bool = True,
) -> bool:
    """Prepare the import unless that was done already, cutting its levels into batches of ``batch_size``
    records (media records, which download, in batches of ``media_batch_size`` or a hundredth of their
    level). Runs in the caller's transaction, holding the import's row lock so that a second worker waits
    and then finds it prepared. Returns False when the import is not (or no longer) importing. Without
    ``analyze`` the staged records' statistics are left as they are (the caller took them)."""
    import_ = await session.scalar(
        select(Import)
        .where(Import.id == import_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if import_ is None or import_.status != "importing":
        return False
    if import_.prepared_at is not None:
        return True
    params = {"import_id": import_id}
    # The staged records were just written; without fresh statistics the planner takes the import for a
    # handful of rows and picks nested loops that rescan it once per record.
    # The columns the commit's queries filter and join on only: statistics of the payloads, the widest
    # columns, would take longest and serve no plan.
    if analyze:
        await session.execute(text(ANALYZE_STAGED))
    await session.execute(text(INITIAL_LEVELS), params)
    if import_.defer_references:
        await resolve_pending_references(session, import_id)
    await session.execute(text(DEPENDENCIES), params)
    if await categories_list_products(session, import_id):
        await session.execute(text(BREAK_CATEGORY_PRODUCT_CYCLES), params)
    for _depth in range(MAX_DEPTH):
        result = await session.execute(text(RAISE_LEVELS), params)
        if getattr(result, "rowcount", 0) == 0:
            break
    else:
        await fail_cycles(session, import_id)
    # Records failed already (a reference still unresolved, a cycle) need none of their nested creations.
    await skip_unneeded_nested(session, import_id)
    await session.execute(
        text(CUT_BATCHES),
        {
            "import_id": import_id,
            "batch_size": batch_size,
            "media_batch_size": media_batch_size,
            "media_steps": MEDIA_STEPS_PER_LEVEL,
            "max_depth": MAX_DEPTH,
        },
    )
    # Records of a cycle, raised without end and failed, add no level.
    levels = await session.scalar(
        select(func.max(ImportRecord.level) + 1).where(
            ImportRecord.import_id == import_id,
            ImportRecord.operation == Operation.UPSERT,
            ImportRecord.level < MAX_DEPTH,
        )
    )
    await session.execute(
        update(Import).where(Import.id == import_id).values(prepared_at=func.now(), levels=levels or 0)
    )
    logger.info("import prepared", import_id=import_id.hex, levels=levels or 0)
    return True


async def categories_list_products(session: AsyncSession, import_id: uuid.UUID) -> bool:
    """Whether a category of the import lists products (``products``): only then can a category and a
    product name each other, and a product's links come from categories written before it."""
    return bool(await session.scalar(text(CATEGORIES_LIST_PRODUCTS), {"import_id": import_id}))


async def resolve_pending_references(session: AsyncSession, import_id: uuid.UUID) -> None:
    """Resolve again, now that every push is in, the references that were pending at push time."""
    has_pending = ImportRecord.refs.op("@?")(text("'$[*] ? (exists(@.field))'::jsonpath"))
    last_id = 0
    while True:
        records = (
            await session.scalars(
                select(ImportRecord)
                .where(ImportRecord.import_id == import_id, ImportRecord.record_id > last_id, has_pending)
                .order_by(ImportRecord.record_id)
                .limit(PENDING_CHUNK)
            )
        ).all()
        if not records:
            return
        last_id = records[-1].record_id
        lookups = Lookups(session, import_id)
        pending = [(record, [Reference.from_json(ref) for ref in record.refs]) for record in records]
        for _record, refs in pending:
            for ref in refs:
                if ref.pending:
                    lookups.of(ref.entity).want(ids=[ref.id], keys=[ref.key])
        await lookups.load()
        failed: list[tuple[ImportRecord, list[Any]]] = []
        for record, refs in pending:
            payload = dict(record.payload)
            kept: list[dict[str, Any]] = []
            problems = []
            for ref in refs:
                if not ref.pending:
                    kept.append(ref.to_json())
                    continue
                known = lookups.of(ref.entity).find(ref.id, ref.key if ref.id is None else None)
                if known is None:
                    problems.append(not_found(ref.entity, ref.path, ref.id, ref.key))
                    continue
                assert ref.field is not None
                if ref.many:
                    values = list(payload.get(ref.field) or [])
                    if known.id.hex not in values:
                        values.append(known.id.hex)
                    payload[ref.field] = values
                else:
                    payload[ref.field] = known.id.hex
                if known.creating:
                    kept.append(Reference(ref.entity, ref.path, id=known.id, nested=ref.nested).to_json())
            record.payload = payload
            record.refs = kept
            if problems:
                failed.append((record, problems))
        await session.flush()
        await record_failures(
            session, import_id, {record.record_id: problems for record, problems in failed}, undo=False
        )


async def fail_cycles(session: AsyncSession, import_id: uuid.UUID) -> None:
    """Records whose dependencies go round in a circle cannot be ordered: fail them."""
    stuck = (
        await session.execute(
            select(ImportRecord.record_id, ImportRecord.path)
            .where(ImportRecord.import_id == import_id, ImportRecord.level >= MAX_DEPTH)
            # Reported in push order.
            .order_by(ImportRecord.record_id)
        )
    ).all()
    await record_failures(
        session,
        import_id,
        {
            record_id: [error("DEPENDENCY_CYCLE", "The record's references form a cycle", path)]
            for record_id, path in stuck
        },
        undo=False,
    )
    logger.warning("dependency cycle", import_id=import_id.hex, records=len(stuck))
