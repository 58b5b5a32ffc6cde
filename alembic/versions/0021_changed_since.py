"""Products, categories and media are listed by when they changed (``updatedSince``, CONTRACT §9.6): an
index on ``(updated_at, id)`` of each, the order and cursor of those lists.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 03:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("products", "categories", "media")


def upgrade() -> None:
    for table in TABLES:
        op.create_index(f"ix_{table}_updated_at_id", table, ["updated_at", "id"])


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(f"ix_{table}_updated_at_id", table_name=table)
