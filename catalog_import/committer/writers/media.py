"""Write media records (their metadata: source URL, title, alt text, file name)."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from catalog_import.committer.writers.base import (
    ClaimedRecord,
    Problems,
    adopt_existing,
    ids_of,
    problems_by_record,
    rows,
    run,
)

MISSING = """
SELECT r.record_id, 'MEDIA_NOT_FOUND', 'ID ' || replace(r.entity_id::text, '-', '') || ' not found'
FROM import_records r
WHERE r.record_id = ANY(:ids) AND r.action = 'update'
  AND NOT EXISTS (SELECT 1 FROM media m WHERE m.id = r.entity_id)
"""

# Fields absent from the payload keep their value; fields present (even null) replace it.
NEW_VALUES = """
    coalesce(r.payload->>'url', m.source_url),
    CASE WHEN r.payload ? 'title' THEN r.payload->>'title' ELSE m.title END,
    CASE WHEN r.payload ? 'alt' THEN r.payload->>'alt' ELSE m.alt END,
    CASE WHEN r.payload ? 'filename' THEN r.payload->>'filename' ELSE m.filename END
"""

UPDATE = f"""
UPDATE media m
SET (source_url, title, alt, filename) = ({NEW_VALUES}), updated_at = now()
FROM import_records r
WHERE r.record_id = ANY(:ids) AND m.id = r.entity_id
  AND (m.source_url, m.title, m.alt, m.filename) IS DISTINCT FROM ({NEW_VALUES})
"""

INSERT = """
INSERT INTO media (id, source_url, title, alt, filename)
SELECT r.entity_id, r.payload->>'url', r.payload->>'title', r.payload->>'alt', r.payload->>'filename'
FROM import_records r
WHERE r.record_id = ANY(:ids) AND r.action = 'create'
  AND NOT EXISTS (SELECT 1 FROM media m WHERE m.id = r.entity_id)
"""


async def write_media(session: AsyncSession, records: Sequence[ClaimedRecord]) -> Problems:
    await adopt_existing(session, ids_of(records), "media", "e.source_url = r.payload->>'url'")
    problems = problems_by_record(records, await rows(session, MISSING, ids_of(records)))
    ids = ids_of(records, exclude=problems)
    await run(session, UPDATE, ids)
    await run(session, INSERT, ids)
    return problems
