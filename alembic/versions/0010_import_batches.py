"""Import batches: one row per batch a commit writes (records settled, when), for throughput over time

Imports committed before this revision have none: their dashboard chart stays empty.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "import_batches",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("import_id", sa.UUID(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column(
            "written_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["imports.id"],
            name=op.f("fk_import_batches_import_id_imports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_batches")),
    )
    op.create_index("ix_import_batches_import_id_id", "import_batches", ["import_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_import_batches_import_id_id", table_name="import_batches")
    op.drop_table("import_batches")
