"""An import can be validated (CONTRACT §9.4): its commit rehearsed and rolled back. The latest
validation of each import (``import_validations``), the failures it found
(``import_validation_failures``), kept beside the import and deleted with it, and the copy of the import
that a worker rehearses the commit on (``imports.rehearsal_of``).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 15:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "imports",
        sa.Column("rehearsal_of", sa.Uuid, sa.ForeignKey("imports.id", ondelete="CASCADE"), nullable=True),
    )
    op.create_index(
        "ix_imports_rehearsal_of",
        "imports",
        ["rehearsal_of"],
        postgresql_where=sa.text("rehearsal_of IS NOT NULL"),
    )
    op.create_table(
        "import_validations",
        sa.Column("import_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_record", sa.BigInteger(), nullable=False),
        sa.Column("totals", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["imports.id"],
            name=op.f("fk_import_validations_import_id_imports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("import_id", name=op.f("pk_import_validations")),
    )
    op.create_index(
        "ix_import_validations_status_heartbeat_at", "import_validations", ["status", "heartbeat_at"]
    )
    op.create_table(
        "import_validation_failures",
        sa.Column("failure_id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("import_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=True),
        sa.Column("entity", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=True),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("batch", sa.Integer(), nullable=True),
        sa.Column("severity_code", sa.SmallInteger(), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["imports.id"],
            name=op.f("fk_import_validation_failures_import_id_imports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("failure_id", name=op.f("pk_import_validation_failures")),
        sa.UniqueConstraint(
            "import_id", "number", name=op.f("uq_import_validation_failures_import_id_number")
        ),
    )


def downgrade() -> None:
    op.drop_table("import_validation_failures")
    op.drop_index("ix_import_validations_status_heartbeat_at", table_name="import_validations")
    op.drop_table("import_validations")
    op.drop_index("ix_imports_rehearsal_of", table_name="imports")
    op.drop_column("imports", "rehearsal_of")
