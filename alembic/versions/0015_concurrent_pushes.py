"""Concurrent pushes into one import: a natural key is staged once per import, operation and entity, kept by
a constraint rather than by pushes taking turns on the import's row.

The constraint is an exclusion constraint because it must be partial (custom entity records carry their
entity's name as their key, shared by all of them) and checked at the end of each statement rather than row
by row: a push may give one product's number to another while renumbering the first. It replaces the plain
index the lookups used, whose columns it covers. Keys staged twice before this revision (none are, as
pushes took turns) keep their latest record's.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 07:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYED = "natural_key IS NOT NULL AND entity <> 'custom_entity'"


def upgrade() -> None:
    op.execute(
        f"""
        UPDATE import_records r SET natural_key = NULL
        WHERE {KEYED} AND EXISTS (
            SELECT 1 FROM import_records later
            WHERE later.import_id = r.import_id AND later.operation = r.operation AND later.entity = r.entity
              AND later.natural_key = r.natural_key AND later.record_id > r.record_id)
        """  # noqa: S608 (constants only)
    )
    op.drop_index("ix_import_records_natural_key", table_name="import_records")
    op.execute(
        f"""
        ALTER TABLE import_records ADD CONSTRAINT ex_import_records_natural_key
        EXCLUDE USING btree (import_id WITH =, operation WITH =, entity WITH =, natural_key WITH =)
        WHERE ({KEYED}) DEFERRABLE INITIALLY IMMEDIATE
        """
    )


def downgrade() -> None:
    op.drop_constraint("ex_import_records_natural_key", "import_records")
    op.create_index("ix_import_records_natural_key", "import_records", ["import_id", "entity", "natural_key"])
