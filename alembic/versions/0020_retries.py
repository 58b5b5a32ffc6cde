"""An import may be the retry of another (``imports.retry_of``, CONTRACT §9.2): it was started holding the
other's failed and skipped root records again. The other's status lists its retries by this column.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "imports",
        sa.Column("retry_of", sa.Uuid, sa.ForeignKey("imports.id", ondelete="SET NULL"), nullable=True),
    )
    op.create_index(
        "ix_imports_retry_of", "imports", ["retry_of"], postgresql_where=sa.text("retry_of IS NOT NULL")
    )


def downgrade() -> None:
    op.drop_index("ix_imports_retry_of", table_name="imports")
    op.drop_column("imports", "retry_of")
