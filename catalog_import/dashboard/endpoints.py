"""The dashboard's routes under ``/dashboard``: HTML pages (whose errors are friendly pages), the JSON the
pages poll for live figures (errors in the contract's envelope), failure downloads and the static files.
None of them is in the OpenAPI document. Handlers are thin: they read the request, call one service
function and render."""

import hashlib
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from functools import cache
from importlib import resources
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import structlog
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, StrictUndefined
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog_import.auth.dependencies import client_address
from catalog_import.auth.service import InvalidClient, authenticate
from catalog_import.dashboard import exports, service, views
from catalog_import.dashboard.service import FailureFilters, SignedIn
from catalog_import.dashboard.sessions import (
    CSRF_FIELD,
    CsrfRefused,
    check_csrf,
    clear_session_cookie,
    current_session,
    dashboard_path,
    secret_version,
    session_signer,
    set_session_cookie,
)
from catalog_import.db import Session, database_unavailable
from catalog_import.errors import ApiError, NotFound, PayloadTooLarge, Unauthorized, Unprocessable
from catalog_import.imports.endpoints import StalledAfter, stalled_after
from catalog_import.models import ImportStatus
from catalog_import.problems import Severity
from catalog_import.ratelimit import RateLimited
from catalog_import.schemas import ApiModel

logger = structlog.get_logger(__name__)

LIST_LIMIT = 25
PAGE_SIZES = (10, 25, 50, 100)
MAX_FORM_BYTES = 16 * 1024
STATIC_TYPES = {"dashboard.css": "text/css; charset=utf-8", "dashboard.js": "text/javascript; charset=utf-8"}
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
NOTICES = {
    "cancelled": "The import was cancelled; everything pushed to it was deleted.",
    "signed-out": "You are signed out.",
}

environment = Environment(
    loader=PackageLoader("catalog_import.dashboard", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


class SignInRequired(Exception):
    """A page was asked for without a session: the visitor is sent to the sign-in form."""


class PageRoute(APIRoute):
    """A route that answers what goes wrong with a page a person can read (a 404 for a malformed id, the
    sign-in form for a missing session), rather than with the API's JSON envelope."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                return RedirectResponse(login_url(request), status_code=303)
            except RequestValidationError as exc:
                if any(error.get("loc", ("",))[0] == "path" for error in exc.errors()):
                    return error_page(request, 404, "Not found", "There is no such page.")
                return error_page(
                    request, 400, "Not a valid address", "The address has a value we can't read."
                )
            except ApiError as exc:
                return error_page(request, exc.status_code, error_title(exc), exc.message)
            except Exception as exc:
                if database_unavailable(exc):
                    message = "The database can't be reached right now. Try again in a moment."
                    return error_page(request, 503, "Unavailable", message)
                logger.exception("dashboard page failed", path=request.url.path)
                return error_page(request, 500, "Something went wrong", "The page could not be shown.")

        return answer


router = APIRouter(include_in_schema=False)
pages = APIRouter(prefix="/dashboard", route_class=PageRoute)
api = APIRouter(prefix="/dashboard/api")
fallback = APIRouter(prefix="/dashboard", route_class=PageRoute)


# -- rendering -------------------------------------------------------------------------------------------


@cache
def static_version(name: str) -> str:
    return hashlib.sha256(static_bytes(name)).hexdigest()[:12]


def static_bytes(name: str) -> bytes:
    return resources.files("catalog_import.dashboard").joinpath("static", name).read_bytes()


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    base = dashboard_path(request)
    html = environment.get_template(template).render(
        base=base,
        static=lambda name: f"{base}/static/{name}?v={static_version(name)}",
        user=context.pop("user", None),
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)


def error_title(exc: ApiError) -> str:
    titles = {
        "IMPORT_NOT_FOUND": "Import not found",
        "IMPORT_ALREADY_COMMITTED": "Already committed",
        "IMPORT_CANCELLED": "Cancelled",
        "CSRF_REFUSED": "Request refused",
    }
    return titles.get(exc.code, "Request not possible")


def error_page(request: Request, status_code: int, title: str, message: str) -> HTMLResponse:
    return render(request, "error.html", status_code, title=title, message=message, code=status_code)


def login_url(request: Request) -> str:
    base = dashboard_path(request)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET" or here in (base, base + "/"):
        return f"{base}/login"
    return f"{base}/login?next={quote(here, safe='')}"


def safe_next(request: Request, value: str | None) -> str:
    """Where to go after signing in: a page of the dashboard, never another site."""
    base = dashboard_path(request)
    if value and (value == base or value.startswith(base + "/")):
        parts = urlsplit(value)
        segments = parts.path.split("/")
        if (
            not parts.scheme
            and not parts.netloc
            and "\\" not in value
            and "." not in segments
            and ".." not in segments
            and value.isprintable()
        ):
            return value
    return base


async def read_form(request: Request) -> dict[str, str]:
    """A form-encoded body (parsed here: the app does not depend on a multipart parser)."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise PayloadTooLarge("The form is too large")
    return dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))


# -- who is signed in --------------------------------------------------------------------------------------


async def signed_in_or_none(request: Request, session: Session) -> SignedIn | None:
    user = await service.signed_in(session, current_session(request))
    if user is not None:
        # For the request's access log line.
        request.state.integration_id = user.integration_id
    return user


async def page_user(user: Annotated[SignedIn | None, Depends(signed_in_or_none)]) -> SignedIn:
    if user is None:
        raise SignInRequired()
    return user


async def api_user(user: Annotated[SignedIn | None, Depends(signed_in_or_none)]) -> SignedIn:
    if user is None:
        raise Unauthorized("Sign in to the dashboard first")
    return user


PageUser = Annotated[SignedIn, Depends(page_user)]
ApiUser = Annotated[SignedIn, Depends(api_user)]
ImportId = Annotated[uuid.UUID, Path()]


def parse_status(value: str | None) -> ImportStatus | None:
    if not value:
        return None
    try:
        return ImportStatus(value)
    except ValueError as exc:
        raise Unprocessable(f"Unknown status {value!r}") from exc


def parse_filters(severity: str, entity: str) -> FailureFilters:
    try:
        min_severity = Severity.from_label(severity) if severity else Severity.DEBUG
    except KeyError as exc:
        raise Unprocessable(f"Unknown severity {severity!r}") from exc
    if entity and entity not in views.ENTITIES:
        raise Unprocessable(f"Unknown entity {entity!r}")
    return FailureFilters(min_severity, entity or None)


Severities = Annotated[str, Query(max_length=16)]
Entities = Annotated[str, Query(max_length=32)]
Cursor = Annotated[str | None, Query(max_length=512)]


# -- signing in and out ------------------------------------------------------------------------------------


def login_form(
    request: Request,
    status_code: int = 200,
    *,
    next_page: str | None = None,
    client_id: str = "",
    error: str | None = None,
    notice: str | None = None,
) -> HTMLResponse:
    """The sign-in form, with the CSRF token of the visitor's session (a new session when it has none)."""
    session = current_session(request)
    token = None
    if session is None or session.integration_id is not None:
        token, session = session_signer(request).anonymous()
    response = render(
        request,
        "login.html",
        status_code,
        csrf_token=session.csrf_token,
        next_page=safe_next(request, next_page),
        client_id=client_id,
        error=error,
        notice=notice,
    )
    if token is not None:
        set_session_cookie(response, request, token, session)
    return response


@pages.get("/login")
async def login_page(
    request: Request,
    user: Annotated[SignedIn | None, Depends(signed_in_or_none)],
    next_page: Annotated[str | None, Query(alias="next", max_length=2048)] = None,
    notice: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    if user is not None:
        return RedirectResponse(safe_next(request, next_page), status_code=303)
    return login_form(request, next_page=next_page, notice=NOTICES.get(notice or ""))


@pages.post("/login")
async def login(request: Request, session: Session) -> Response:
    form = await read_form(request)
    next_page = form.get("next")
    client_id = form.get("client_id", "").strip()[:255]
    try:
        check_csrf(request, current_session(request), form.get(CSRF_FIELD))
    except CsrfRefused:
        message = "The sign-in form had expired or came from another site. Please sign in again."
        return login_form(request, 403, next_page=next_page, client_id=client_id, error=message)
    try:
        integration = await authenticate(
            session,
            request.app.state.sign_in_failures,
            client_id,
            form.get("client_secret", "")[:1024],
            client_address(request),
        )
    except InvalidClient:
        logger.info("dashboard sign-in refused", client_id=client_id)
        message = "Unknown client id or wrong secret."
        return login_form(request, 401, next_page=next_page, client_id=client_id, error=message)
    except RateLimited as exc:
        logger.info("dashboard sign-in throttled", client_id=client_id)
        return login_form(request, 429, next_page=next_page, client_id=client_id, error=f"{exc.message}.")
    token, dashboard_session = session_signer(request).sign_in(
        integration.id, secret_version(integration.secret_hash)
    )
    response = RedirectResponse(safe_next(request, next_page), status_code=303)
    set_session_cookie(response, request, token, dashboard_session)
    logger.info("dashboard sign-in", integration_id=integration.id.hex)
    return response


@pages.post("/logout")
async def logout(request: Request) -> Response:
    form = await read_form(request)
    check_csrf(request, current_session(request), form.get(CSRF_FIELD))
    response = RedirectResponse(f"{dashboard_path(request)}/login?notice=signed-out", status_code=303)
    clear_session_cookie(response, request)
    return response


# -- pages ---------------------------------------------------------------------------------------------------


@pages.get("")
async def imports_page(
    request: Request,
    session: Session,
    user: PageUser,
    status: Annotated[str | None, Query(max_length=16)] = None,
    cursor: Cursor = None,
) -> Response:
    items, next_cursor = await service.import_list(
        session, user.integration_id, parse_status(status), cursor, LIST_LIMIT, stalled_after(request)
    )
    query = urlencode({key: value for key, value in (("status", status), ("cursor", cursor)) if value})
    return render(
        request,
        "imports.html",
        user=user,
        imports=items,
        status=status or "",
        statuses=[s.value for s in ImportStatus],
        cursor=cursor,
        next_query=urlencode({"status": status, "cursor": next_cursor} if status else {"cursor": next_cursor})
        if next_cursor
        else None,
        poll_query=query,
    )


@pages.get("/imports/{import_id}")
async def import_page(
    request: Request,
    import_id: ImportId,
    session: Session,
    user: PageUser,
    severity: Severities = "",
    entity: Entities = "",
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 25,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    notice: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    filters = parse_filters(severity, entity)
    details = await service.import_details(
        session, user.integration_id, import_id, filters, cursor, limit, stalled_after(request)
    )
    failures = details.failures
    filter_values = {"severity": severity, "entity": entity}
    filter_query = urlencode({key: value for key, value in filter_values.items() if value})
    page_query = urlencode({**{k: v for k, v in filter_values.items() if v}, "limit": limit})
    return render(
        request,
        "import.html",
        user=user,
        item=details.item,
        chart=details.chart,
        failures=failures,
        severity=severity or "debug",
        entity=entity,
        limit=limit,
        page_sizes=sorted({*PAGE_SIZES, limit}),
        page=page,
        cursor=cursor,
        filtered=bool(filter_query),
        filter_query=filter_query,
        page_query=page_query,
        next_query=f"{page_query}&{urlencode({'cursor': failures.next_cursor, 'page': page + 1})}"
        if failures.next_cursor
        else None,
        severities=views.SEVERITIES,
        entities=views.ENTITIES,
        notice=NOTICES.get(notice or ""),
    )


@pages.get("/imports/{import_id}/cancel")
async def cancel_page(request: Request, import_id: ImportId, session: Session, user: PageUser) -> Response:
    """The confirmation asked before cancelling (the import's page asks in a dialog when it can)."""
    item = await service.import_view(session, user.integration_id, import_id, stalled_after(request))
    return render(request, "cancel.html", user=user, item=item)


@pages.post("/imports/{import_id}/cancel")
async def cancel_import(request: Request, import_id: ImportId, session: Session, user: PageUser) -> Response:
    form = await read_form(request)
    check_csrf(request, current_session(request), form.get(CSRF_FIELD))
    await service.cancel(session, user.integration_id, import_id)
    logger.info("import cancelled from the dashboard", import_id=import_id.hex)
    target = f"{dashboard_path(request)}/imports/{import_id.hex}?notice=cancelled"
    return RedirectResponse(target, status_code=303)


async def failure_stream(
    factory: async_sessionmaker[AsyncSession], import_id: uuid.UUID, filters: FailureFilters
) -> AsyncIterator[Any]:
    # The request's session is closed once the handler returns: the download reads with a session of its
    # own while it is being sent.
    async with factory() as session:
        async for failure in service.all_failures(session, import_id, filters):
            yield failure


@pages.get("/imports/{import_id}/failures.{kind}")
async def download_failures(
    request: Request,
    import_id: ImportId,
    kind: str,
    session: Session,
    user: PageUser,
    severity: Severities = "",
    entity: Entities = "",
) -> Response:
    if kind not in ("csv", "json"):
        return error_page(request, 404, "Not found", "Failures can be downloaded as CSV or JSON.")
    filters = parse_filters(severity, entity)
    await service.ensure_visible(session, user.integration_id, import_id)
    failures = failure_stream(request.app.state.session_factory, import_id, filters)
    headers = {
        "Content-Disposition": f'attachment; filename="import-{import_id.hex}-failures.{kind}"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }
    if kind == "csv":
        return StreamingResponse(
            exports.failures_csv(failures), media_type="text/csv; charset=utf-8", headers=headers
        )
    return StreamingResponse(exports.failures_json(failures), media_type="application/json", headers=headers)


@pages.get("/static/{name}")
async def static_file(name: str) -> Response:
    if name not in STATIC_TYPES:
        raise NotFound("There is no such file.")
    return Response(
        static_bytes(name),
        media_type=STATIC_TYPES[name],
        headers={"Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"},
    )


# -- JSON the pages poll -------------------------------------------------------------------------------------


class ImportsJson(ApiModel):
    items: list[views.ImportView]
    next_cursor: str | None


class ImportJson(ApiModel):
    item: views.ImportView
    chart_html: str | None


@api.get("/imports", response_model=ImportsJson)
async def imports_json(
    response: Response,
    session: Session,
    user: ApiUser,
    stalled_after_seconds: StalledAfter,
    status: ImportStatus | None = None,
    cursor: Cursor = None,
) -> ImportsJson:
    items, next_cursor = await service.import_list(
        session, user.integration_id, status, cursor, LIST_LIMIT, stalled_after_seconds
    )
    response.headers["Cache-Control"] = "no-store"
    return ImportsJson(items=items, next_cursor=next_cursor)


@api.get("/imports/{import_id}", response_model=ImportJson)
async def import_json(
    response: Response,
    import_id: ImportId,
    session: Session,
    user: ApiUser,
    stalled_after_seconds: StalledAfter,
    chart: bool = False,
) -> ImportJson:
    response.headers["Cache-Control"] = "no-store"
    item, throughput = await service.import_live(
        session, user.integration_id, import_id, stalled_after_seconds, chart=chart
    )
    chart_html = environment.get_template("_chart.html").render(chart=throughput) if chart else None
    return ImportJson(item=item, chart_html=chart_html)


@fallback.get("/{rest:path}")
async def not_found(request: Request, rest: str) -> Response:
    if not rest:
        return RedirectResponse(dashboard_path(request), status_code=308)
    return error_page(request, 404, "Not found", "There is no such page.")


router.include_router(pages)
router.include_router(api)
router.include_router(fallback)
