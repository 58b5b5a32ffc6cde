"""Failures at commit: a failed record's state and problems, the failure row of its root, the failures
of the records that depend on it, and the undoing of the nested creations of a failed root."""

import uuid
from collections import Counter
from collections.abc import Mapping, Sequence

from sqlalchemy import BigInteger, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_import.committer.repository import CommitRepository
from catalog_import.committer.writers.base import ClaimedRecord
from catalog_import.imports import webhook_messages
from catalog_import.models import ImportFailure, RecordState
from catalog_import.problems import Problem, error

# The failed and skipped records the batch's records depend on, looked up from the import's failures
# (usually none), not from every record of the batch.
FAILED_DEPENDENCIES = """
WITH unwritten AS MATERIALIZED (
    SELECT o.record_id, o.state, o.problems FROM import_record_outcomes o
    WHERE o.import_id = :import_id AND o.state IN ('failed', 'skipped')
)
SELECT d.record_id, d.path, d.nested, t.entity, t.entity_id, t.natural_key, u.state, u.problems
FROM unwritten u
JOIN import_record_dependencies d ON d.depends_on = u.record_id
JOIN import_records t ON t.record_id = u.record_id
WHERE d.record_id = ANY(:ids)
ORDER BY d.record_id, d.path
"""

# A record settled is pending no more; one settled again (a nested creation undone) replaces its outcome.
SETTLE = """
INSERT INTO import_record_outcomes (record_id, import_id, entity, state, problems)
SELECT r.record_id, r.import_id, r.entity, :state, f.problems
FROM jsonb_to_recordset(:failures) AS f(record_id bigint, problems jsonb)
JOIN import_records r ON r.record_id = f.record_id
ON CONFLICT (record_id) DO UPDATE SET state = excluded.state, problems = excluded.problems
RETURNING entity
"""

# Numbered after the import's last failure (under ORDER_FAILURES), in record order.
INSERT_FAILURES = """
INSERT INTO import_failures
    (import_id, number, record_id, entity, entity_id, path, batch, severity_code, details)
SELECT r.import_id,
       (SELECT coalesce(max(x.number), 0) FROM import_failures x WHERE x.import_id = r.import_id)
       + row_number() OVER (ORDER BY r.record_id),
       r.record_id, r.entity, r.entity_id, r.path, r.batch, f.severity_code, f.problems
FROM jsonb_to_recordset(:failures) AS f(record_id bigint, problems jsonb, severity_code smallint)
JOIN import_records r ON r.record_id = f.record_id
WHERE r.root AND NOT EXISTS (SELECT 1 FROM import_failures y WHERE y.record_id = r.record_id)
ORDER BY r.record_id
ON CONFLICT (record_id) DO NOTHING
RETURNING failure_id
"""

NEXT_NUMBER = "SELECT coalesce(max(number), 0) + 1 FROM import_failures WHERE import_id = :import_id"

# Failures of one import are numbered in the order their transactions commit: whoever records failures
# holds this lock until it commits, so that a reader paging through them, or following them as they come,
# by number never misses one that a slower transaction numbered lower.
ORDER_FAILURES = "SELECT pg_advisory_xact_lock(hashtextextended('import-failures:' || :import_id, 0))"

# Nested creations the failed records needed and that nothing else still needs: undone, counted as not
# written. A nested creation may also be needed by records other than its root (a tax created under one
# product and named by another): it goes once the last of them has failed. Nested creations sit at higher
# levels than what needs them, so they are written by now unless they have failed or were skipped.
ORPHANED_NESTED = """
SELECT DISTINCT n.record_id, n.entity, n.entity_id
FROM import_record_dependencies d
JOIN import_records n ON n.record_id = d.depends_on
WHERE d.record_id = ANY(:ids) AND NOT n.root
  AND NOT EXISTS (
      SELECT 1 FROM import_record_outcomes no
      WHERE no.record_id = n.record_id AND no.state IN ('failed', 'skipped'))
  AND NOT EXISTS (
      SELECT 1 FROM import_record_dependencies o
      WHERE o.depends_on = n.record_id
        AND NOT EXISTS (
            SELECT 1 FROM import_record_outcomes xo
            WHERE xo.record_id = o.record_id AND xo.state IN ('failed', 'skipped')))
"""

# Before anything is written: nested creations that only records already failed (at preparation) need are
# not written at all.
UNNEEDED_NESTED = """
INSERT INTO import_record_outcomes (record_id, import_id, entity, state)
SELECT DISTINCT n.record_id, n.import_id, n.entity, 'skipped'
FROM import_record_outcomes f
JOIN import_record_dependencies d ON d.record_id = f.record_id
JOIN import_records n ON n.record_id = d.depends_on
WHERE f.import_id = :import_id AND f.state = 'failed' AND NOT n.root
  AND NOT EXISTS (SELECT 1 FROM import_record_outcomes no WHERE no.record_id = n.record_id)
  AND NOT EXISTS (
      SELECT 1 FROM import_record_dependencies o
      WHERE o.depends_on = n.record_id
        AND NOT EXISTS (
            SELECT 1 FROM import_record_outcomes xo
            WHERE xo.record_id = o.record_id AND xo.state IN ('failed', 'skipped')))
RETURNING entity
"""

UNDO = {
    "tax": "DELETE FROM taxes t WHERE t.id = ANY(:entity_ids) "
    "AND NOT EXISTS (SELECT 1 FROM products p WHERE p.tax_id = t.id)",
    "media": "DELETE FROM media m WHERE m.id = ANY(:entity_ids) "
    "AND NOT EXISTS (SELECT 1 FROM product_media pm WHERE pm.media_id = m.id) RETURNING m.sha256",
    "custom_entity": "DELETE FROM custom_entity_records c WHERE c.id = ANY(:entity_ids) "
    "AND NOT EXISTS (SELECT 1 FROM product_custom_entities l WHERE l.record_id = c.id)",
}


async def dependency_problems(
    session: AsyncSession, import_id: uuid.UUID, records: Sequence[ClaimedRecord]
) -> dict[int, list[Problem]]:
    """Problems of claimed records that depend on a record that failed: a nested creation that failed
    fails its root (its problems, then ``NESTED_FAILED``), any other failed dependency gives
    ``DEPENDENCY_FAILED``. A dependency skipped with warnings only (media while URL upload is disabled)
    passes its warnings on and fails nothing."""
    if not records:
        return {}
    by_id = {record.record_id: record for record in records}
    statement = text(FAILED_DEPENDENCIES).bindparams(bindparam("ids", type_=ARRAY(BigInteger)))
    found = (await session.execute(statement, {"import_id": import_id, "ids": list(by_id)})).all()
    problems: dict[int, list[Problem]] = {}
    for record_id, path, nested, entity, entity_id, natural_key, state, dependency_problems_json in found:
        record = by_id[record_id]
        label = record.entity.capitalize()
        record_problems = problems.setdefault(record_id, [])
        quoted_problems = [Problem.from_json(detail) for detail in dependency_problems_json or []]
        if state == "skipped" and quoted_problems and not any(p.is_error for p in quoted_problems):
            record_problems.extend(
                Problem(p.code, p.message, path, p.severity, p.entity) for p in quoted_problems
            )
        elif nested:
            for detail in dependency_problems_json or []:
                quoted = Problem.from_json(detail)
                record_problems.append(
                    Problem(quoted.code, quoted.message, path, quoted.severity, quoted.entity or entity)
                )
            if not any(p.code == "NESTED_FAILED" for p in record_problems):
                record_problems.append(
                    error(
                        "NESTED_FAILED",
                        f"{label} not imported: a nested record failed",
                        record.path,
                        record.entity,
                    )
                )
        else:
            what = natural_key or entity_id.hex
            record_problems.append(
                error(
                    "DEPENDENCY_FAILED",
                    f"{label} not imported: it depends on {entity} {what}, which failed",
                    path,
                    entity,
                )
            )
    return problems


async def record_failures(
    session: AsyncSession,
    import_id: uuid.UUID,
    problems: Mapping[int, Sequence[Problem]],
    entities: Mapping[int, str] | None = None,
    *,
    state: str = RecordState.FAILED,
    undo: bool = True,
) -> set[str]:
    """Settle records with their problems and report them under their roots (see ``settle_records`` and
    ``report_failures``). Returns the files of media that were undone."""
    files = await settle_records(session, import_id, problems, entities, state=state, undo=undo)
    await report_failures(session, import_id, problems, entities)
    return files


def failure_rows(
    problems: Mapping[int, Sequence[Problem]], entities: Mapping[int, str] | None
) -> list[dict[str, object]]:
    return [
        {
            "record_id": record_id,
            "problems": [detail_json(p, (entities or {}).get(record_id)) for p in record_problems],
            "severity_code": min(int(p.severity) for p in record_problems),
        }
        for record_id, record_problems in problems.items()
    ]


async def settle_records(
    session: AsyncSession,
    import_id: uuid.UUID,
    problems: Mapping[int, Sequence[Problem]],
    entities: Mapping[int, str] | None = None,
    *,
    state: str = RecordState.FAILED,
    undo: bool = True,
) -> set[str]:
    """Settle pending records with their problems in ``state`` (failed, or skipped or written with
    warnings) and count them so; for failed ones, undo the nested creations nothing else needs (unless
    ``undo`` is false: nothing is written yet). Returns the files of media that were undone."""
    if not problems:
        return set()
    statement = text(SETTLE).bindparams(bindparam("failures", type_=JSONB))
    settled = (
        await session.scalars(statement, {"failures": failure_rows(problems, entities), "state": state})
    ).all()
    await CommitRepository(session).count_moved(import_id, Counter(settled), RecordState.PENDING, state)
    if state != RecordState.FAILED or not undo:
        return set()
    return await undo_nested(session, import_id, list(problems))


async def report_failures(
    session: AsyncSession,
    import_id: uuid.UUID,
    problems: Mapping[int, Sequence[Problem]],
    entities: Mapping[int, str] | None = None,
) -> None:
    """Report settled records' problems as failures of their roots, and queue them for the import's error
    webhook. Call it last in the transaction: it holds the import's failure-ordering lock until commit."""
    if not problems:
        return
    await session.execute(text(ORDER_FAILURES), {"import_id": str(import_id)})
    statement = text(INSERT_FAILURES).bindparams(bindparam("failures", type_=JSONB))
    failure_ids = (await session.scalars(statement, {"failures": failure_rows(problems, entities)})).all()
    await webhook_messages.failures_recorded(session, import_id, failure_ids)


def detail_json(problem: Problem, entity: str | None) -> dict[str, object]:
    data = problem.to_json()
    if "entity" not in data and entity is not None:
        data["entity"] = entity
    return data


async def undo_nested(session: AsyncSession, import_id: uuid.UUID, failed_ids: list[int]) -> set[str]:
    statement = text(ORPHANED_NESTED).bindparams(bindparam("ids", type_=ARRAY(BigInteger)))
    orphans = (await session.execute(statement, {"ids": failed_ids})).all()
    if not orphans:
        return set()
    by_entity: dict[str, list[uuid.UUID]] = {}
    for _record_id, entity, entity_id in orphans:
        by_entity.setdefault(entity, []).append(entity_id)
    files: set[str] = set()
    for entity, entity_ids in by_entity.items():
        if entity in UNDO:
            result = await session.execute(text(UNDO[entity]), {"entity_ids": entity_ids})
            if entity == "media":
                files.update(sha for (sha,) in result if sha)
    skip = text(SETTLE).bindparams(bindparam("failures", type_=JSONB))
    await session.execute(
        skip, {"failures": [{"record_id": row[0]} for row in orphans], "state": RecordState.SKIPPED}
    )
    await CommitRepository(session).count_moved(
        import_id,
        Counter(entity for _record_id, entity, _entity_id in orphans),
        RecordState.WRITTEN,
        RecordState.SKIPPED,
    )
    return files


async def skip_unneeded_nested(session: AsyncSession, import_id: uuid.UUID) -> None:
    """Skip the nested creations that only records failed before the writing started needed."""
    skipped = (await session.scalars(text(UNNEEDED_NESTED), {"import_id": import_id})).all()
    await CommitRepository(session).count_moved(
        import_id, Counter(skipped), RecordState.PENDING, RecordState.SKIPPED
    )


async def record_import_failure(session: AsyncSession, import_id: uuid.UUID, problem: Problem) -> None:
    """An import-wide failure (entity ``import``), not tied to a record."""
    await session.execute(text(ORDER_FAILURES), {"import_id": str(import_id)})
    number = await session.scalar(text(NEXT_NUMBER), {"import_id": import_id})
    failure_id = await session.scalar(
        insert(ImportFailure)
        .values(
            import_id=import_id,
            number=number,
            entity="import",
            entity_id=import_id,
            severity_code=int(problem.severity),
            details=[problem.to_json()],
        )
        .returning(ImportFailure.failure_id)
    )
    assert failure_id is not None
    await webhook_messages.failures_recorded(session, import_id, [failure_id])
