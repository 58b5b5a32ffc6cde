"""Structured logs with structlog: JSON lines when not on a terminal, readable lines on one, for the
libraries' lines too; context bound
with structlog's contextvars (a request's id, an import's id and the batch being written) is added to every
line; and an access line per API request."""

import logging
import re
import sys
import time
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = structlog.get_logger(__name__)

# One list, changed in place by every configuration: loggers cached under an earlier configuration hold a
# reference to it and follow.
PROCESSORS: list[structlog.typing.Processor] = []


class CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the time (test runners and embedding hosts swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(level: str = "INFO", json: bool | None = None) -> None:
    """Our lines and those of the libraries that log through the standard library (uvicorn, arq…) alike:
    JSON when not on a terminal (or when ``json``), each with its level, time and context."""
    as_json = (not sys.stderr.isatty()) if json is None else json
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer()
    )
    stream = CurrentStderr()
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # Warnings (a library's RuntimeWarning at import) become log lines like any other.
    logging.captureWarnings(True)
    PROCESSORS[:] = [*shared, structlog.processors.format_exc_info, renderer]
    structlog.configure(
        processors=PROCESSORS,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )


REQUEST_ID_HEADER = b"x-request-id"
# A request id sent by the caller (or a proxy in front) is kept when it is a plain token.
CALLER_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")
# Polled by load balancers and monitoring: their access lines are debug lines.
QUIET_PATHS = frozenset({"/health", "/ready", "/metrics"})


class AccessLogMiddleware:
    """ASGI middleware for the API. Each request gets an id — the caller's ``X-Request-ID`` when it is a
    plain token, else a new one — bound to every log line of the request and sent back in
    ``X-Request-ID``. Once answered, a ``request`` line gives method, path, status, duration and, when the
    request carried a valid token, the integration's id (put in ``request.state`` by the bearer check)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope["headers"]).get(REQUEST_ID_HEADER, b"")
        request_id = sent.decode() if CALLER_REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex
        # The dict behind ``request.state``, shared with the app, so that the bearer check can leave the
        # integration's id in it.
        state = scope.setdefault("state", {})
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (REQUEST_ID_HEADER, request_id.encode())]
            await send(message)

        started = time.perf_counter()
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                path = scope["path"]
                log = logger.debug if path in QUIET_PATHS else logger.info
                integration_id = state.get("integration_id")
                log(
                    "request",
                    method=scope["method"],
                    path=path,
                    status=status,
                    seconds=round(time.perf_counter() - started, 4),
                    integration_id=integration_id.hex if isinstance(integration_id, uuid.UUID) else None,
                )
