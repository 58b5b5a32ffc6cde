"""Database engine, session factory and the request-scoped session that commits at the boundary."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

# SQLSTATEs of a server that cannot serve the connection: it is shutting down or was stopped by an operator
# (57P01), crashed (57P02), is starting up or shutting down (57P03), or has no connection left (53300).
# Class 08 (connection exceptions) is matched by its prefix.
UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says that PostgreSQL could not be reached or went away (stopped, restarting, the
    connection lost), as opposed to refusing a statement: worth retrying once the server is back."""
    if isinstance(exc, DBAPIError):
        sqlstate = getattr(exc.orig, "sqlstate", None) or ""
        return (
            exc.connection_invalidated
            or isinstance(exc, OperationalError | InterfaceError)
            or sqlstate in UNAVAILABLE_SQLSTATES
            or sqlstate.startswith("08")
        )
    # Network errors of the driver that no DBAPI error wraps (a refused connection).
    return isinstance(exc, ConnectionError | OSError)


def constraint_name(exc: DBAPIError) -> str | None:
    """The constraint a refused statement broke, if any: asyncpg names it on its error, which SQLAlchemy's
    adapter wraps (directly or as the cause of its own)."""
    original = getattr(exc, "orig", None)
    return getattr(original, "constraint_name", None) or getattr(
        getattr(original, "__cause__", None), "constraint_name", None
    )


def async_database_url(url: str) -> str:
    """The SQLAlchemy asyncpg form of a ``postgresql://`` URL."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(
        async_database_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        # Statements are prepared afresh each time, so PostgreSQL plans each for its parameters: after five
        # runs of a cached statement it may switch to a generic plan, which for `= ANY(:array)` lookups
        # against tables that grow during an import filters every row. Forcing custom plans for the whole
        # session instead would replan every foreign-key check of every row written (the checks are
        # prepared statements too): that made them four times as costly.
        connect_args={"prepared_statement_cache_size": 0},
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def joined_session_factory(connection: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    """Sessions on ``connection`` that join the transaction open on it: a session's own transaction is a
    savepoint in it, and what the sessions commit is undone if it rolls back."""
    return async_sessionmaker(
        bind=connection, expire_on_commit=False, autoflush=False, join_transaction_mode="create_savepoint"
    )


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request. It commits after the endpoint returns and before the response is sent,
    so a failed commit becomes an error response instead of a silent success."""
    factory: async_sessionmaker[AsyncSession] = request.app.state.session_factory
    async with factory() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()


Session = Annotated[AsyncSession, Depends(get_session, scope="function")]
