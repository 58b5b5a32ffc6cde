"""Bring the database schema up to date with the alembic migrations shipped with the project, and make
throwaway databases built by them (for test runs and benchmarks)."""

import asyncio
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from catalog_import.db import async_database_url

if TYPE_CHECKING:
    from alembic.config import Config

PACKAGE_DIR = Path(__file__).resolve().parent
# The database a child process started by ``upgrade_in_child_process`` migrates.
CHILD_DATABASE_URL = "CATALOG_IMPORT_MIGRATE_DATABASE_URL"


# alembic is imported where it is used: a process that only calls ``upgrade_in_child_process`` never
# loads it.


def alembic_config(database_url: str) -> "Config":
    """Alembic configuration for ``database_url``, from a source checkout or an installed wheel."""
    from alembic.config import Config

    bundled = PACKAGE_DIR / "migrations"
    script_location = bundled if bundled.is_dir() else PACKAGE_DIR.parent / "alembic"
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Run the migrations (synchronously; call it before the event loop starts or in a thread)."""
    from alembic import command

    command.upgrade(alembic_config(database_url), revision)


def upgrade_in_child_process(database_url: str) -> None:
    """``upgrade`` in a short-lived child process, for the server and the workers: alembic and the
    migration scripts it loads would otherwise stay in their memory for good (about 15 MB of each).
    Exits with an error when the migrations fail; the child has printed why. The URL goes by the
    environment, which only the same user can read, not by the command line."""
    child = subprocess.run(
        [sys.executable, "-m", "catalog_import.migrations"],
        env={**os.environ, CHILD_DATABASE_URL: database_url},
        check=False,
    )
    if child.returncode != 0:
        raise SystemExit(f"error: the database migrations failed (exit code {child.returncode})")


@contextmanager
def scratch_database(server_url: str, prefix: str) -> Iterator[str]:
    """A database of its own on the server of ``server_url`` (named ``prefix`` and random hex), built by
    the migrations; dropped at the end, connections and all. Yields its URL."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)

    async def admin(statement: str) -> None:
        engine = create_async_engine(async_database_url(server_url), isolation_level="AUTOCOMMIT")
        async with engine.connect() as connection:
            await connection.execute(text(statement))
        await engine.dispose()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        upgrade(url)
        yield url
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    upgrade(os.environ[CHILD_DATABASE_URL])
