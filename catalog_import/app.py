"""The FastAPI application: routers, error handlers, and a lifespan that owns the engine, the session
factory, the queue and (optionally) an in-process worker."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import structlog
from fastapi import FastAPI

from catalog_import import __version__
from catalog_import.addresses import AddressPolicy
from catalog_import.auth import endpoints as auth_endpoints
from catalog_import.auth.dependencies import authentication_error
from catalog_import.auth.service import ensure_bootstrap_integration, token_signing_key
from catalog_import.auth.tokens import TokenSigner
from catalog_import.catalog import endpoints as catalog_endpoints
from catalog_import.config import Settings
from catalog_import.custom_entities import endpoints as custom_entity_endpoints
from catalog_import.dashboard import endpoints as dashboard_endpoints
from catalog_import.db import create_engine, create_session_factory
from catalog_import.errors import install_error_handlers
from catalog_import.health import router as health_router
from catalog_import.imports import endpoints as import_endpoints
from catalog_import.imports.body import PushesPerIntegration
from catalog_import.imports.repository import ImportRepository
from catalog_import.logs import AccessLogMiddleware
from catalog_import.media import endpoints as media_endpoints
from catalog_import.media.services import media_storage
from catalog_import.metrics import AppMetrics, ScrapeTimeGauges
from catalog_import.metrics import router as metrics_router
from catalog_import.queue import ImportQueue
from catalog_import.ratelimit import RateLimiter, parse_rate_limit
from catalog_import.schemas import ErrorResponse, component_schemas, without_defaults
from catalog_import.timeouts import RequestTimeoutMiddleware

logger = structlog.get_logger(__name__)

DESCRIPTION = """\
Push catalog records (taxes, categories, media, products) into an import session, let the server resolve
natural keys into ids, and commit: workers write the catalog level by level, dependencies first, and
report per-record failures with RFC 5424 severities."""


# Answers any route may give under load or while a dependency is down; both carry Retry-After.
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {
        "model": ErrorResponse,
        "description": "SERVICE_UNAVAILABLE (the database is unreachable) or REQUEST_TIMEOUT",
    }
}
RATE_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {"model": ErrorResponse, "description": "RATE_LIMITED: the integration is over its request rate"}
}


def create_app(settings: Settings, *, run_worker: bool = False) -> FastAPI:
    """The API for ``settings``. Serving it needs the database and Redis URLs set (``embedded`` starts
    servers for those that are not); describing it (OpenAPI) does not."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not settings.database_url or not settings.redis_url:
            raise RuntimeError("the API needs settings with database_url and redis_url")
        engine = create_engine(settings.database_url, pool_size=settings.db_pool_size)
        session_factory = create_session_factory(engine)
        queue = await ImportQueue.connect(
            settings.redis_url, settings.queue_name, settings.commit_jobs_per_import
        )
        async with session_factory() as session, session.begin():
            key = (
                settings.secret_key.get_secret_value()
                if settings.secret_key
                else await token_signing_key(session)
            )
            if settings.bootstrap_client_id and settings.bootstrap_client_secret:
                await ensure_bootstrap_integration(
                    session, settings.bootstrap_client_id, settings.bootstrap_client_secret.get_secret_value()
                )
        app.state.settings = settings
        app.state.engine = engine
        app.state.session_factory = session_factory
        app.state.queue = queue
        app.state.push_slots = asyncio.Semaphore(settings.push_concurrency)
        app.state.address_policy = AddressPolicy(settings.media_allowed_hosts)
        app.state.pushes_per_integration = PushesPerIntegration(settings.pushes_per_integration)
        app.state.token_signer = TokenSigner(key, settings.token_ttl_seconds)
        app.state.rate_limiter = RateLimiter(
            settings.redis_url, parse_rate_limit(settings.rate_limit), f"{settings.queue_name}:rate"
        )
        app.state.sign_in_failures = RateLimiter(
            settings.redis_url,
            parse_rate_limit(settings.sign_in_failure_limit),
            f"{settings.queue_name}:sign-in-failures",
        )
        app.state.media_storage = media_storage(settings)

        async def imports_by_status() -> dict[str, int]:
            async with session_factory() as session:
                return await ImportRepository(session).count_by_status()

        app.state.metrics = AppMetrics(ScrapeTimeGauges(queue, imports_by_status))
        worker_task = None
        worker = None
        if run_worker:
            from catalog_import.worker import create_worker

            worker = create_worker(settings, handle_signals=False)
            worker_task = asyncio.create_task(worker.async_run())
        try:
            yield
        finally:
            if worker is not None and worker_task is not None:
                worker_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker_task
                await worker.close()
            await app.state.rate_limiter.aclose()
            await app.state.sign_in_failures.aclose()
            await queue.close()
            await engine.dispose()

    app = FastAPI(
        title="Catalog Import API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    install_error_handlers(app, authentication_error=authentication_error)
    app.include_router(health_router)
    app.include_router(auth_endpoints.router, responses=UNAVAILABLE)
    app.include_router(import_endpoints.router, responses={**RATE_LIMITED, **UNAVAILABLE})
    app.include_router(catalog_endpoints.router, responses={**RATE_LIMITED, **UNAVAILABLE})
    app.include_router(custom_entity_endpoints.router, responses={**RATE_LIMITED, **UNAVAILABLE})
    app.include_router(custom_entity_endpoints.catalog_router, responses={**RATE_LIMITED, **UNAVAILABLE})
    app.include_router(media_endpoints.router, responses=UNAVAILABLE)
    app.include_router(metrics_router)
    app.include_router(dashboard_endpoints.router)
    describe = app.openapi
    app.openapi = lambda: json_error_bodies(with_request_components(describe()))  # type: ignore[method-assign]
    app.add_middleware(RequestTimeoutMiddleware, timeout_seconds=settings.request_timeout_seconds)
    # Added last, so outermost: its access line sees every answer, those of other middleware too.
    app.add_middleware(AccessLogMiddleware)
    return app


def with_request_components(document: dict[str, Any]) -> dict[str, Any]:
    """The request bodies that routes read themselves (pushes, the token request) as named components, so
    that generated clients get a type per record (``ProductRecord``…). Changes ``document`` in place."""
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components["ImportConfig"] = without_defaults(components["ImportConfig"])
    models = (*import_endpoints.REQUEST_MODELS, *auth_endpoints.REQUEST_MODELS)
    for name, schema in component_schemas(models).items():
        if components.setdefault(name, schema) != schema:
            raise RuntimeError(f"two schemas are named {name} in the OpenAPI document")
    return document


def json_error_bodies(document: dict[str, Any]) -> dict[str, Any]:
    """Errors are answered in JSON whatever a route answers on success: FastAPI documents them in the
    route's own media type, which for an event stream is wrong. Changes ``document`` in place."""
    for path_item in document["paths"].values():
        for operation in path_item.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if not status.startswith("2") and "text/event-stream" in content:
                    content["application/json"] = content.pop("text/event-stream")
    return document


def openapi_document() -> str:
    """The OpenAPI document as committed under ``openapi/`` (stable key order, trailing newline)."""
    document = create_app(Settings(database_url=None, redis_url=None)).openapi()
    return json.dumps(document, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
