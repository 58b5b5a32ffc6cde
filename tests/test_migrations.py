"""The migrations build exactly the schema the models describe, and run apart from the processes that
serve."""

import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from catalog_import.migrations import upgrade_in_child_process
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


def test_migrating_in_a_child_process_keeps_alembic_out_of_the_caller(database_url: str) -> None:
    caller = (
        "import sys; from catalog_import.migrations import upgrade_in_child_process; "
        f"upgrade_in_child_process({database_url!r}); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))"
    )

    finished = subprocess.run([sys.executable, "-c", caller], capture_output=True, text=True, timeout=120)

    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == "[]"


def test_failed_migrations_in_a_child_process_stop_the_caller() -> None:
    # Nothing listens on port 1 of the loopback address: the child cannot connect.
    with pytest.raises(SystemExit, match="the database migrations failed"):
        upgrade_in_child_process("postgresql://postgres@127.0.0.1:1/nothing")
