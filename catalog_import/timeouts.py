"""A time limit per request (``CATALOG_IMPORT_REQUEST_TIMEOUT_SECONDS``): a request not answered in time is
cancelled — its transaction rolls back, so nothing of it is kept — and gets 503 ``REQUEST_TIMEOUT`` in the
error envelope. The limit covers the time until the response starts; a response already streaming (a
media file) is not cut off."""

import asyncio

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from catalog_import.errors import envelope


class RequestTimeoutMiddleware:
    def __init__(self, app: ASGIApp, timeout_seconds: float) -> None:
        self.app = app
        self.timeout_seconds = timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        try:
            async with asyncio.timeout(self.timeout_seconds) as deadline:

                async def send_in_time(message: Message) -> None:
                    nonlocal started
                    if message["type"] == "http.response.start":
                        started = True
                        deadline.reschedule(None)
                    await send(message)

                await self.app(scope, receive, send_in_time)
        except TimeoutError:
            if started:
                raise
            await answer_timeout(send, self.timeout_seconds)


async def answer_timeout(send: Send, timeout_seconds: float) -> None:
    body = orjson.dumps(
        envelope("REQUEST_TIMEOUT", f"The request was not answered within {timeout_seconds:g} s; retry it")
    )
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", b"1"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
