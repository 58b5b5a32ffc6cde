"""Each root record of a push body is kept as it was pushed (``import_records.pushed``: the JSON of the
body's item, stored as text, since it is never queried into and text is not parsed again on the way in),
so that a failure can be given with its record and pushed again (CONTRACT §9.1). The other root records
staged from an item (a product's variants) name the item's record instead (``item_id``). Records staged
before this revision have neither.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("import_records", sa.Column("pushed", sa.Text, nullable=True))
    op.add_column("import_records", sa.Column("item_id", sa.Uuid, nullable=True))


def downgrade() -> None:
    op.drop_column("import_records", "item_id")
    op.drop_column("import_records", "pushed")
