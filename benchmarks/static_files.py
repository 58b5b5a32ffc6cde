"""The benchmarks' loopback file server: the files of one directory, read when asked for and sent whole with
their length, as a CDN or a DAM's file endpoint sends them, by a bare ASGI app under uvicorn (httptools,
uvloop). It costs about 60 µs of CPU per request, against about 250 for ``python -m http.server`` and 780
for Starlette's ``StaticFiles`` (which moves every file operation to a thread): a run measures the
downloads, not the file server.

    python -m uvicorn benchmarks.static_files:app --http httptools --loop uvloop …
    (the directory in ``CATALOG_IMPORT_BENCH_FILES``)"""

import mimetypes
import os
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

DIRECTORY_VARIABLE = "CATALOG_IMPORT_BENCH_FILES"
Message = MutableMapping[str, Any]


def response_for(method: str, request_path: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """The status, headers and body answering a request. Files are read in the event loop, without a
    thread: they are small and on a local disk, and a hop to a thread costs more than the read."""
    root = Path(os.environ[DIRECTORY_VARIABLE]).resolve()
    path = (root / request_path.lstrip("/")).resolve()
    if method not in ("GET", "HEAD") or root not in path.parents or not path.is_file():
        return 404, [(b"content-length", b"0")], b""
    body = path.read_bytes()
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    return 200, headers, b"" if method == "HEAD" else body


async def app(
    scope: Message, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    status, headers, body = response_for(scope["method"], scope["path"])
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
