"""The batch as the commit's unit of work: a committed import's levels are cut into batches (ranges of
staged records of one level) that runners claim, write and mark done in one transaction. Staged records
are no longer updated by the commit: what a record came to, when there is something to say (failed,
skipped, written with warnings), is an outcome row of its own, and the record counts are written by the
committer beside its outcomes instead of by a trigger on every change of the staged records.

Imports being committed during the upgrade keep going: their settled records get outcomes (written ones
too, so that no batch takes them again) and their pending records batches of their own.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Staged records are counted as pending when they are staged and uncounted when they are deleted; what
# they come to at commit is counted by the committer.
COUNT_CHANGES = """
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO import_record_counts (import_id, entity, state, records)
    SELECT c.import_id, c.entity, 'pending', sum(c.change)
    FROM ({changes}) AS c(import_id, entity, change)
    -- Records deleted with their import (a cascade) leave nothing to count.
    WHERE EXISTS (SELECT FROM imports i WHERE i.id = c.import_id)
    GROUP BY c.import_id, c.entity
    HAVING sum(c.change) <> 0;
    RETURN NULL;
END
$$
"""

TRIGGERS = {
    "count_inserted_records": "SELECT import_id, entity, 1 FROM new_records",
    "count_deleted_records": "SELECT import_id, entity, -1 FROM old_records",
}

# The trigger functions of revision 0011, restored by the downgrade.
STATE_COUNT_CHANGES = """
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO import_record_counts (import_id, entity, state, records)
    SELECT c.import_id, c.entity, c.state, sum(c.change)
    FROM ({changes}) AS c(import_id, entity, state, change)
    WHERE EXISTS (SELECT FROM imports i WHERE i.id = c.import_id)
    GROUP BY c.import_id, c.entity, c.state
    HAVING sum(c.change) <> 0;
    RETURN NULL;
END
$$
"""

STATE_TRIGGERS = {
    "count_inserted_records": "SELECT import_id, entity, state, 1 FROM new_records",
    "count_updated_records": "SELECT import_id, entity, state, -1 FROM old_records "
    "UNION ALL SELECT import_id, entity, state, 1 FROM new_records",
    "count_deleted_records": "SELECT import_id, entity, state, -1 FROM old_records",
}

UPGRADE_BATCH_SIZE = 1000


def upgrade() -> None:
    op.create_table(
        "import_record_outcomes",
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("import_id", sa.UUID(), nullable=False),
        sa.Column("entity", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("problems", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["import_records.record_id"],
            name=op.f("fk_import_record_outcomes_record_id_import_records"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["imports.id"],
            name=op.f("fk_import_record_outcomes_import_id_imports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_import_record_outcomes")),
    )
    op.create_index(
        "ix_import_record_outcomes_import_id_state", "import_record_outcomes", ["import_id", "state"]
    )
    # Every record of an import being committed that is settled, and the records of other imports with
    # something to say.
    op.execute(
        """
        INSERT INTO import_record_outcomes (record_id, import_id, entity, state, problems)
        SELECT r.record_id, r.import_id, r.entity, r.state, r.problems
        FROM import_records r JOIN imports i ON i.id = r.import_id
        WHERE r.state <> 'pending'
          AND (r.state <> 'written' OR r.problems IS NOT NULL OR i.status = 'importing')
        """
    )

    op.add_column("import_batches", sa.Column("level", sa.SmallInteger(), nullable=True))
    op.add_column("import_batches", sa.Column("first_record", sa.BigInteger(), nullable=True))
    op.add_column("import_batches", sa.Column("last_record", sa.BigInteger(), nullable=True))
    op.add_column(
        "import_batches",
        sa.Column("state", sa.String(length=16), nullable=False, server_default="done"),
    )
    op.alter_column("import_batches", "state", server_default=None)
    op.alter_column("import_batches", "written_at", nullable=True, server_default=None)
    op.create_index(
        "ix_import_batches_pending",
        "import_batches",
        ["import_id", "level", "first_record"],
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.execute(
        f"""
        INSERT INTO import_batches (import_id, level, first_record, last_record, records, state)
        SELECT import_id, level, min(record_id), max(record_id), count(*), 'pending'
        FROM (
            SELECT r.import_id, r.record_id, r.level,
                   (row_number() OVER (PARTITION BY r.import_id, r.level ORDER BY r.record_id) - 1)
                   / {UPGRADE_BATCH_SIZE} AS chunk
            FROM import_records r JOIN imports i ON i.id = r.import_id
            WHERE i.status = 'importing' AND i.prepared_at IS NOT NULL AND r.state = 'pending'
        ) AS pending
        GROUP BY import_id, level, chunk
        """  # noqa: S608 (only a constant is interpolated)
    )

    op.execute("DROP TRIGGER count_updated_records ON import_records")
    op.execute("DROP FUNCTION count_updated_records()")
    for name, changes in TRIGGERS.items():
        op.execute(COUNT_CHANGES.format(name=name, changes=changes))
    op.drop_index("ix_import_records_work", table_name="import_records")
    op.create_index("ix_import_records_level", "import_records", ["import_id", "level", "record_id"])
    op.drop_column("import_records", "problems")
    op.drop_column("import_records", "state")


def downgrade() -> None:
    op.add_column(
        "import_records",
        sa.Column("state", sa.String(length=16), nullable=False, server_default="pending"),
    )
    op.alter_column("import_records", "state", server_default=None)
    op.add_column(
        "import_records", sa.Column("problems", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )
    op.execute(
        """
        UPDATE import_records r SET state = 'written'
        FROM import_batches b
        WHERE b.import_id = r.import_id AND b.state = 'done' AND b.level = r.level
          AND r.record_id BETWEEN b.first_record AND b.last_record
        """
    )
    op.execute(
        """
        UPDATE import_records r SET state = 'written'
        FROM imports i WHERE i.id = r.import_id AND i.status = 'done'
        """
    )
    op.execute(
        """
        UPDATE import_records r SET state = o.state, problems = o.problems
        FROM import_record_outcomes o WHERE o.record_id = r.record_id
        """
    )
    op.drop_index("ix_import_records_level", table_name="import_records")
    op.create_index("ix_import_records_work", "import_records", ["import_id", "state", "level", "record_id"])
    for name, changes in STATE_TRIGGERS.items():
        op.execute(STATE_COUNT_CHANGES.format(name=name, changes=changes))
    op.execute(
        "CREATE TRIGGER count_updated_records AFTER UPDATE ON import_records "
        "REFERENCING OLD TABLE AS old_records NEW TABLE AS new_records "
        "FOR EACH STATEMENT EXECUTE FUNCTION count_updated_records()"
    )
    op.drop_index("ix_import_batches_pending", table_name="import_batches")
    op.execute("DELETE FROM import_batches WHERE state <> 'done' OR written_at IS NULL")
    op.alter_column(
        "import_batches", "written_at", nullable=False, server_default=sa.text("clock_timestamp()")
    )
    op.drop_column("import_batches", "state")
    op.drop_column("import_batches", "last_record")
    op.drop_column("import_batches", "first_record")
    op.drop_column("import_batches", "level")
    op.drop_index("ix_import_record_outcomes_import_id_state", table_name="import_record_outcomes")
    op.drop_table("import_record_outcomes")
