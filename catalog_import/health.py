"""Liveness and readiness: ``/health`` answers while the process runs, ``/ready`` when the database and
Redis answer too."""

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from catalog_import.errors import envelope
from catalog_import.schemas import ErrorResponse

router = APIRouter(tags=["health"])


@router.get("/health", operation_id="health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready", operation_id="ready", responses={503: {"model": ErrorResponse, "description": "NOT_READY"}}
)
async def ready(request: Request) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(2):
            async with request.app.state.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any failure means not ready
        checks["database"] = f"unavailable: {type(exc).__name__}"
    try:
        async with asyncio.timeout(2):
            await request.app.state.queue.pool.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"unavailable: {type(exc).__name__}"
    if all(value == "ok" for value in checks.values()):
        return JSONResponse({"status": "ready", **checks})
    details = [{"component": name, "status": value} for name, value in checks.items()]
    return JSONResponse(envelope("NOT_READY", "A dependency is not reachable", details), status_code=503)
