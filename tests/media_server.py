"""A loopback HTTP server (127.0.0.1) whose answers the tests choose per path: any bytes and content type,
error statuses, redirects, a sequence of answers for successive requests (500 then 200), and bodies that
stall half-way until released. It counts the requests of every path, so that a test can tell how often a
file was downloaded. Every instance has a salt of its own: the images it makes differ from those of every
other test, which matters with content-addressed storage shared by the whole test run."""

import hashlib
import io
import random
import secrets
import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image

# How long a stalled body waits to be released before the handler gives up on its own.
STALL_LIMIT_SECONDS = 30.0


def png_bytes(seed: str, side: int = 4) -> bytes:
    """A PNG of ``side`` × ``side`` noise pixels chosen by ``seed`` (noise does not compress: the file grows
    with ``side``)."""
    pixels = random.Random(hashlib.sha256(seed.encode()).digest()).randbytes(side * side * 3)
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str | None = "image/png"
    headers: dict[str, str] = field(default_factory=dict)
    # False: no Content-Length, the body ends when the connection closes.
    declare_length: bool = True
    # Send this many bytes of the body, then wait until the server is released.
    stall_after: int | None = None


NOT_FOUND = Reply(404, b"not found", "text/plain")


class MediaServer:
    def __init__(self) -> None:
        self.salt = secrets.token_hex(8)
        self._replies: dict[str, deque[Reply]] = {}
        self._requests: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.stalling = threading.Event()
        self.released = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.01,), daemon=True)
        self._thread.start()

    # -- what to answer -----------------------------------------------------------------------------------
    def serve(self, path: str, *replies: Reply) -> str:
        """Answer ``path`` with ``replies`` in turn, the last one again and again; returns its URL."""
        assert replies
        with self._lock:
            self._replies[path] = deque(replies)
        return self.url(path)

    def image(self, path: str, *, side: int = 4) -> str:
        """Answer ``path`` with a PNG of its own (see ``png``); returns its URL."""
        return self.serve(path, Reply(body=self.png(path, side=side)))

    def png(self, path: str, *, side: int = 4) -> bytes:
        """The PNG ``image`` serves at ``path``."""
        return png_bytes(f"{self.salt}{path}", side)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def requests(self, path: str) -> int:
        with self._lock:
            return self._requests[path]

    def release(self) -> None:
        """Let stalled bodies go on."""
        self.released.set()

    def close(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # -- answering ----------------------------------------------------------------------------------------
    def _next(self, path: str) -> Reply:
        with self._lock:
            self._requests[path] += 1
            replies = self._replies.get(path)
            if not replies:
                return NOT_FOUND
            return replies.popleft() if len(replies) > 1 else replies[0]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                reply = server._next(self.path)
                try:
                    self._answer(reply)
                except OSError:
                    # The client went away (a cancelled or refused download).
                    self.close_connection = True

            def _answer(self, reply: Reply) -> None:
                self.send_response(reply.status)
                if reply.content_type is not None:
                    self.send_header("Content-Type", reply.content_type)
                if reply.declare_length:
                    self.send_header("Content-Length", str(len(reply.body)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if reply.stall_after is None:
                    self.wfile.write(reply.body)
                    return
                self.wfile.write(reply.body[: reply.stall_after])
                self.wfile.flush()
                server.stalling.set()
                server.released.wait(STALL_LIMIT_SECONDS)
                self.wfile.write(reply.body[reply.stall_after :])

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
