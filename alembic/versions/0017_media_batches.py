"""Batches of media records are cut apart from the other records of their level, and smaller: a runner
writes several of them at once while their downloads run, and each settles as soon as its own downloads
have ended. Batches cut before this revision (``media`` null) hold every record of their range, and are
written as they were.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("import_batches", sa.Column("media", sa.Boolean, nullable=True))


def downgrade() -> None:
    op.drop_column("import_batches", "media")
