"""What a media that cannot be downloaded does to its root record, per import (``mediaFailure``): imports
started before this revision keep failing the root, as they did.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("imports", sa.Column("media_failure", sa.String(8), nullable=False, server_default="fail"))


def downgrade() -> None:
    op.drop_column("imports", "media_failure")
