"""Dependencies between staged records without foreign keys: they are written in bulk when a commit is
prepared, from the staged records themselves, and a foreign-key check per row cost most of that time

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 15:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOREIGN_KEYS = {
    "fk_import_record_dependencies_record_id_import_records": "record_id",
    "fk_import_record_dependencies_depends_on_import_records": "depends_on",
}


def upgrade() -> None:
    for name in FOREIGN_KEYS:
        op.drop_constraint(name, "import_record_dependencies", type_="foreignkey")


def downgrade() -> None:
    # Dependencies whose records are gone would fail the new constraints: they are of no use anyway.
    op.execute(
        "DELETE FROM import_record_dependencies d WHERE NOT EXISTS "
        "(SELECT 1 FROM import_records r WHERE r.record_id = d.record_id) OR NOT EXISTS "
        "(SELECT 1 FROM import_records r WHERE r.record_id = d.depends_on)"
    )
    for name, column in FOREIGN_KEYS.items():
        op.create_foreign_key(
            name,
            "import_record_dependencies",
            "import_records",
            [column],
            ["record_id"],
            ondelete="CASCADE",
        )
