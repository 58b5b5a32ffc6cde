"""custom entities: declared types, their records, and their links to products

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 10:50:49.850806
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "custom_entity_types",
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("fields_schema", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("product_relation", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_custom_entity_types")),
    )
    op.create_table(
        "custom_entity_records",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("type_name", sa.String(length=63), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["type_name"],
            ["custom_entity_types.name"],
            name=op.f("fk_custom_entity_records_type_name_custom_entity_types"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custom_entity_records")),
    )
    op.create_index(
        "ix_custom_entity_records_type_name", "custom_entity_records", ["type_name"], unique=False
    )
    op.create_table(
        "product_custom_entities",
        sa.Column("product_id", sa.UUID(), nullable=False),
        sa.Column("record_id", sa.UUID(), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_product_custom_entities_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["custom_entity_records.id"],
            name=op.f("fk_product_custom_entities_record_id_custom_entity_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("product_id", "record_id", name=op.f("pk_product_custom_entities")),
    )
    op.create_index(
        "ix_product_custom_entities_record_id", "product_custom_entities", ["record_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_product_custom_entities_record_id", table_name="product_custom_entities")
    op.drop_table("product_custom_entities")
    op.drop_index("ix_custom_entity_records_type_name", table_name="custom_entity_records")
    op.drop_table("custom_entity_records")
    op.drop_table("custom_entity_types")
