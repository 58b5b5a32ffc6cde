"""The minimal ingest endpoint that P4 (PERFORMANCE.md) measures the API's push against: FastAPI, a body of
up to 1000 product records validated with pydantic v2 (``model_validate_json``), and the records COPYed
as JSON into a staging table on one connection of a pool. No authentication, no natural keys resolved,
no nested records extracted: what any push endpoint must at least do.

Run by the benchmark harness in a uvicorn process of its own (one worker, uvloop and httptools when
installed, as ``catalog-import serve``):

    MINIMAL_ENDPOINT_DATABASE_URL=postgresql://… python -m uvicorn --factory \
        benchmarks.minimal_endpoint:create_app --host 127.0.0.1 --port 8100

``POST /records`` with ``{"products": [...]}`` answers ``{"staged": n}``; ``GET /health`` answers 200."""

import itertools
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

DATABASE_URL_VARIABLE = "MINIMAL_ENDPOINT_DATABASE_URL"
STAGING_TABLE = "minimal_staging"
MAX_RECORDS = 1000


class Record(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


class TaxRef(Record):
    name: str = Field(min_length=1, max_length=255)


class Price(Record):
    currency: str = Field(min_length=3, max_length=3)
    gross: float = Field(ge=0)
    net: float = Field(ge=0)
    linked: bool = False


class CategoryRef(Record):
    path: list[str] = Field(min_length=1, max_length=32)


class Media(Record):
    url: str = Field(min_length=1, max_length=2048)
    title: str | None = None
    alt: str | None = None
    filename: str | None = None


class Product(Record):
    id: uuid.UUID | None = None
    name: str = Field(min_length=1, max_length=255)
    product_number: str = Field(alias="productNumber", min_length=1, max_length=64)
    tax: TaxRef
    prices: list[Price] = Field(min_length=1)
    stock: int = 0
    categories: list[CategoryRef] = Field(default_factory=list)
    media: list[Media] = Field(default_factory=list)


class Body(Record):
    products: list[Product] = Field(max_length=MAX_RECORDS)


def create_app(database_url: str | None = None) -> FastAPI:
    """The app; the database comes from ``database_url`` or the environment (``DATABASE_URL_VARIABLE``)."""
    dsn = database_url or os.environ[DATABASE_URL_VARIABLE]
    batches = itertools.count(1)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
        # With several processes each starts here at once, and CREATE TABLE IF NOT EXISTS is no guard
        # against a concurrent one: they take turns on a lock of the transaction.
        async with pool.acquire() as connection, connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock(hashtext($1))", STAGING_TABLE)
            await connection.execute(
                f"CREATE TABLE IF NOT EXISTS {STAGING_TABLE} (record_id bigint GENERATED ALWAYS AS "
                "IDENTITY PRIMARY KEY, batch integer NOT NULL, position integer NOT NULL, payload jsonb "
                "NOT NULL)"
            )
        app.state.pool = pool
        try:
            yield
        finally:
            await pool.close()

    app = FastAPI(lifespan=lifespan, openapi_url=None)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/records")
    async def records(request: Request) -> dict[str, Any]:
        try:
            body = Body.model_validate_json(await request.body())
        except ValidationError as exc:
            raise HTTPException(422, exc.errors(include_url=False, include_context=False)) from exc
        batch = next(batches)
        rows = [
            (batch, position, product.model_dump_json(by_alias=True, exclude_none=True))
            for position, product in enumerate(body.products)
        ]
        async with request.app.state.pool.acquire() as connection:
            await connection.copy_records_to_table(
                STAGING_TABLE, columns=["batch", "position", "payload"], records=rows
            )
        return {"staged": len(rows)}

    return app
