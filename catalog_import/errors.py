"""API errors: one base class carrying a stable code and an HTTP status, and the handlers that answer
every error in the contract's envelope ``{"code", "message", "details"?}``."""

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from catalog_import.db import database_unavailable

logger = structlog.get_logger(__name__)


class ApiError(Exception):
    """An error answered to the client with ``status_code`` and the envelope."""

    status_code = 400
    code = "BAD_REQUEST"
    headers: dict[str, str] | None = None

    def __init__(self, message: str, *, details: list[Any] | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code is not None:
            self.code = code


class NotFound(ApiError):
    status_code = 404
    code = "NOT_FOUND"


class ImportNotFound(NotFound):
    code = "IMPORT_NOT_FOUND"

    def __init__(self) -> None:
        super().__init__("Import not found")


class Conflict(ApiError):
    status_code = 409
    code = "CONFLICT"


class ImportAlreadyCommitted(Conflict):
    code = "IMPORT_ALREADY_COMMITTED"

    def __init__(self) -> None:
        super().__init__("The import has already been committed")


class ImportCancelled(Conflict):
    code = "IMPORT_CANCELLED"

    def __init__(self) -> None:
        super().__init__("The import has been cancelled")


class ImportNotDone(Conflict):
    code = "IMPORT_NOT_DONE"

    def __init__(self) -> None:
        super().__init__("Only an import that is done can be retried")


class ValidationRunning(Conflict):
    code = "VALIDATION_RUNNING"

    def __init__(self) -> None:
        super().__init__("A validation of the import is running: wait until it is done")


class NothingToRetry(Conflict):
    code = "NOTHING_TO_RETRY"

    def __init__(self) -> None:
        super().__init__("The import has no failed or skipped root records to push again")


class IdempotencyKeyReused(Conflict):
    code = "IDEMPOTENCY_KEY_REUSED"

    def __init__(self) -> None:
        super().__init__("This Idempotency-Key started an import with another body; use a new key")


class Unprocessable(ApiError):
    status_code = 422
    code = "INVALID_REQUEST"


class InvalidImport(Unprocessable):
    code = "INVALID_IMPORT"


class PayloadTooLarge(ApiError):
    status_code = 413
    code = "PAYLOAD_TOO_LARGE"


class Unauthorized(ApiError):
    status_code = 401
    code = "UNAUTHORIZED"


class ServiceUnavailable(ApiError):
    status_code = 503
    code = "SERVICE_UNAVAILABLE"


# Routes whose body validation errors carry a more specific code than INVALID_REQUEST.
VALIDATION_ERROR_CODES = {"start_import": "INVALID_IMPORT"}


def envelope(code: str, message: str, details: list[Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return body


def validation_details(errors: Any) -> list[dict[str, Any]]:
    """Pydantic errors as `{"path", "message", "type"}` with dot-separated paths."""
    details = []
    for err in errors:
        loc = [str(part) for part in err.get("loc", ()) if part not in ("body", "query", "path", "header")]
        details.append({"path": ".".join(loc), "message": err.get("msg", "invalid"), "type": err.get("type")})
    return details


AuthenticationCheck = Callable[[Request], Awaitable[ApiError | None]]


def install_error_handlers(app: FastAPI, *, authentication_error: AuthenticationCheck | None = None) -> None:
    """Answer every error with the envelope. ``authentication_error`` tells the 401 a request owes before its
    body is judged (FastAPI rejects a body that is not JSON before the route's dependencies run)."""

    async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else exc.headers
        return JSONResponse(
            envelope(exc.code, exc.message, exc.details), status_code=exc.status_code, headers=headers
        )

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        unauthorized = await authentication_error(request) if authentication_error else None
        if unauthorized is not None:
            return await on_api_error(request, unauthorized)
        route_name = getattr(request.scope.get("route"), "name", "")
        code = VALIDATION_ERROR_CODES.get(route_name, "INVALID_REQUEST")
        return JSONResponse(
            envelope(code, "The request is not valid", validation_details(exc.errors())), status_code=422
        )

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
            # FastAPI's answer to a JSON body that is not UTF-8: as invalid as one that is not JSON.
            undecodable = {"type": "json_invalid", "loc": ("body",), "msg": "The body is not UTF-8 JSON"}
            return await on_validation_error(request, RequestValidationError([undecodable]))
        codes = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 401: "UNAUTHORIZED"}
        code = codes.get(exc.status_code, "HTTP_ERROR")
        return JSONResponse(envelope(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers)

    async def on_database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        logger.warning("database unavailable", error=str(exc))
        return JSONResponse(
            envelope("SERVICE_UNAVAILABLE", "The database is not reachable; retry the request"),
            status_code=503,
            headers={"Retry-After": "1"},
        )

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        if database_unavailable(exc):
            return await on_database_unavailable(request, exc)
        logger.exception("unhandled error", path=request.url.path)
        return JSONResponse(envelope("INTERNAL_ERROR", "Internal server error"), status_code=500)

    async def on_database_error(request: Request, exc: Exception) -> JSONResponse:
        # A lost or refused connection is answered 503 here, not by the outermost handler, which would
        # answer and then raise the error again for the server to log as a crash. Any other database
        # error goes on to that handler: a 500.
        if database_unavailable(exc):
            return await on_database_unavailable(request, exc)
        raise exc

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    # Every database error (OperationalError and InterfaceError included) and the driver's network errors.
    app.add_exception_handler(DBAPIError, on_database_error)
    app.add_exception_handler(ConnectionError, on_database_unavailable)
    app.add_exception_handler(OSError, on_database_unavailable)
    app.add_exception_handler(Exception, on_unexpected)
