"""Write taxes: updates change only the fields a record carries and skip unchanged rows."""

from collections.abc import Sequence

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
)

MISSING = """
SELECT r.record_id, 'TAX_NOT_FOUND', 'ID ' || replace(r.entity_id::text, '-', '') || ' not found'
FROM import_records r
WHERE r.record_id = ANY(:ids) AND r.action = 'update'
  AND NOT EXISTS (SELECT 1 FROM taxes t WHERE t.id = r.entity_id)
"""

UPDATE = """
UPDATE taxes t
SET name = coalesce(r.payload->>'name', t.name),
    tax_rate = coalesce((r.payload->>'taxRate')::numeric, t.tax_rate),
    updated_at = now()
FROM import_records r
WHERE r.record_id = ANY(:ids) AND t.id = r.entity_id
  AND (t.name, t.tax_rate) IS DISTINCT FROM
      (coalesce(r.payload->>'name', t.name), coalesce((r.payload->>'taxRate')::numeric, t.tax_rate))
"""

INSERT = """
INSERT INTO taxes (id, name, tax_rate)
SELECT r.entity_id, r.payload->>'name', (r.payload->>'taxRate')::numeric
FROM import_records r
WHERE r.record_id = ANY(:ids) AND r.action = 'create'
ON CONFLICT (id) DO UPDATE SET name = excluded.name, tax_rate = excluded.tax_rate, updated_at = now()
  WHERE (taxes.name, taxes.tax_rate) IS DISTINCT FROM (excluded.name, excluded.tax_rate)
"""


async def write_taxes(
    session: AsyncSession, records: Sequence[ClaimedRecord], context: WriteContext
) -> Problems:
    await adopt_existing(session, ids_of(records), "taxes", "e.name = r.payload->>'name'")
    problems = problems_by_record(records, await rows(session, MISSING, ids_of(records)))
    ids = ids_of(records, exclude=problems)
    await run(session, UPDATE, ids)
    await run(session, INSERT, ids)
    return problems
