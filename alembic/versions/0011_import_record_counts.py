"""Import record counts: how many staged records of an import are in each entity and state, kept by
triggers, so that ``status`` sums a few rows instead of counting every record of the import

Each statement that inserts, updates or deletes staged records adds one row per (import, entity, state)
it changed, with the change in count; rows are added, never updated, so concurrent batches never wait
for one another. A finished import's rows are summed up into one per entity and state.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The changed rows of one statement, as (import_id, entity, state, change) rows, in ``changes``.
COUNT_CHANGES = """
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO import_record_counts (import_id, entity, state, records)
    SELECT c.import_id, c.entity, c.state, sum(c.change)
    FROM ({changes}) AS c(import_id, entity, state, change)
    -- Records deleted with their import (a cascade) leave nothing to count.
    WHERE EXISTS (SELECT FROM imports i WHERE i.id = c.import_id)
    GROUP BY c.import_id, c.entity, c.state
    HAVING sum(c.change) <> 0;
    RETURN NULL;
END
$$
"""

TRIGGERS = {
    "INSERT": ("count_inserted_records", "NEW TABLE AS new_records",
               "SELECT import_id, entity, state, 1 FROM new_records"),
    "UPDATE": ("count_updated_records", "OLD TABLE AS old_records NEW TABLE AS new_records",
               "SELECT import_id, entity, state, -1 FROM old_records "
               "UNION ALL SELECT import_id, entity, state, 1 FROM new_records"),
    "DELETE": ("count_deleted_records", "OLD TABLE AS old_records",
               "SELECT import_id, entity, state, -1 FROM old_records"),
}  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "import_record_counts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("import_id", sa.UUID(), nullable=False),
        sa.Column("entity", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["imports.id"],
            name=op.f("fk_import_record_counts_import_id_imports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_record_counts")),
    )
    op.create_index("ix_import_record_counts_import_id", "import_record_counts", ["import_id"], unique=False)
    op.execute(
        "INSERT INTO import_record_counts (import_id, entity, state, records) "
        "SELECT import_id, entity, state, count(*) FROM import_records GROUP BY import_id, entity, state"
    )
    for event, (name, transition_tables, changes) in TRIGGERS.items():
        op.execute(COUNT_CHANGES.format(name=name, changes=changes))
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON import_records REFERENCING {transition_tables} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )


def downgrade() -> None:
    for name, _transition_tables, _changes in TRIGGERS.values():
        op.execute(f"DROP TRIGGER {name} ON import_records")
        op.execute(f"DROP FUNCTION {name}()")
    op.drop_index("ix_import_record_counts_import_id", table_name="import_record_counts")
    op.drop_table("import_record_counts")
