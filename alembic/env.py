"""Alembic environment: runs the migrations on the asyncpg engine of the configured database."""

import asyncio
import os

from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from alembic import context
from catalog_import.db import async_database_url
from catalog_import.models import Base

config = context.config
target_metadata = Base.metadata


def database_url() -> str:
    url = config.attributes.get("database_url") or os.environ.get("CATALOG_IMPORT_DATABASE_URL")
    if not url:
        raise RuntimeError(
            "no database URL: run `catalog-import migrate`, or set CATALOG_IMPORT_DATABASE_URL"
        )
    return async_database_url(url)


def run_with(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        # Several processes may start at once against one database: migrate one at a time.
        context.execute("SELECT pg_advisory_xact_lock(7355608)")
        context.run_migrations()


async def run_online() -> None:
    engine = create_async_engine(database_url(), poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(run_with)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(run_online())
