"""Failure numbers per import: the failures cursor and the event stream's ids count the failures of one
import (1, 2, 3…), instead of showing the server-wide row id, which told an integration how many failures
the others had

Failures recorded before this revision are numbered in the order they were recorded.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("import_failures", sa.Column("number", sa.Integer(), nullable=True))
    op.execute(
        """
        UPDATE import_failures f SET number = n.number
        FROM (SELECT failure_id, row_number() OVER (PARTITION BY import_id ORDER BY failure_id) AS number
              FROM import_failures) AS n
        WHERE n.failure_id = f.failure_id
        """
    )
    op.alter_column("import_failures", "number", nullable=False)
    op.drop_index("ix_import_failures_import_id_failure_id", table_name="import_failures")
    op.create_unique_constraint(
        op.f("uq_import_failures_import_id_number"), "import_failures", ["import_id", "number"]
    )


def downgrade() -> None:
    op.drop_constraint(op.f("uq_import_failures_import_id_number"), "import_failures", type_="unique")
    op.create_index(
        "ix_import_failures_import_id_failure_id",
        "import_failures",
        ["import_id", "failure_id"],
        unique=False,
    )
    op.drop_column("import_failures", "number")
