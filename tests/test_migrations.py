"""The migrations build exactly the schema the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from catalog_import.models import Base


async def test_migrated_schema_matches_the_models(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        differences = await connection.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata
            )
        )

    assert differences == []


async def test_every_iso_4217_currency_is_seeded(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        codes = set((await connection.execute(text("SELECT iso_code FROM currencies"))).scalars())

    assert {"EUR", "USD", "CHF", "JPY", "GBP"} <= codes
    assert len(codes) >= 170
