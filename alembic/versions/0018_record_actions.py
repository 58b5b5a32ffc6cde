"""What the staged records of an import will do at commit, per entity and action (create, update, delete,
unassign), counted as records are staged and deleted, so that ``status.actions`` shows it from the first
push on without counting the records one by one. Imports staged before this revision are counted once.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# An upsert creates or updates (the action decided at push); a delete or an unassign is what it says.
ACTION = "CASE WHEN operation = 'upsert' THEN action ELSE operation END"

COUNT_ACTIONS = """
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO import_record_actions (import_id, entity, action, records)
    SELECT c.import_id, c.entity, c.action, sum(c.change)
    FROM ({changes}) AS c(import_id, entity, action, change)
    -- Records deleted with their import (a cascade) leave nothing to count.
    WHERE EXISTS (SELECT FROM imports i WHERE i.id = c.import_id)
    GROUP BY c.import_id, c.entity, c.action
    HAVING sum(c.change) <> 0;
    RETURN NULL;
END
$$
"""

TRIGGERS = {
    "count_inserted_actions": (
        "INSERT",
        "NEW TABLE AS new_records",
        f"SELECT import_id, entity, {ACTION}, 1 FROM new_records",  # noqa: S608 (a constant)
    ),
    "count_deleted_actions": (
        "DELETE",
        "OLD TABLE AS old_records",
        f"SELECT import_id, entity, {ACTION}, -1 FROM old_records",  # noqa: S608 (a constant)
    ),
}


def upgrade() -> None:
    op.create_table(
        "import_record_actions",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("import_id", sa.UUID(), nullable=False),
        sa.Column("entity", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["imports.id"],
            name=op.f("fk_import_record_actions_import_id_imports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_record_actions")),
    )
    op.create_index(
        "ix_import_record_actions_import_id", "import_record_actions", ["import_id"], unique=False
    )
    for name, (event, table, changes) in TRIGGERS.items():
        op.execute(COUNT_ACTIONS.format(name=name, changes=changes))
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON import_records REFERENCING {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )
    op.execute(
        f"""
        INSERT INTO import_record_actions (import_id, entity, action, records)
        SELECT import_id, entity, {ACTION}, count(*) FROM import_records GROUP BY 1, 2, 3
        """  # noqa: S608 (only a constant is interpolated)
    )


def downgrade() -> None:
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON import_records")
        op.execute(f"DROP FUNCTION {name}()")
    op.drop_index("ix_import_record_actions_import_id", table_name="import_record_actions")
    op.drop_table("import_record_actions")
