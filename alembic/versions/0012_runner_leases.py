"""Runner leases: one row per job working on an import, renewed by its live worker, so that a dead worker's
import is handed to another one within seconds

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "runner_leases",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("import_id", sa.UUID(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["imports.id"],
            name=op.f("fk_runner_leases_import_id_imports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runner_leases")),
    )
    op.create_index("ix_runner_leases_import_id", "runner_leases", ["import_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_runner_leases_import_id", table_name="runner_leases")
    op.drop_table("runner_leases")
