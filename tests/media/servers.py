"""A loopback HTTP server (127.0.0.1 only) whose answers a test chooses per path: any status, bytes, content
type and headers (to GET and to POST, whose requests it keeps for the test to read), redirects, a sequence of
answers for successive requests (500, then 200), bodies framed by Content-Length, chunked or ended by
closing the connection, bodies cut off, bodies stalled half-way until released, answers held for a
moment, and bodies trickled a byte at a time. It counts requests per path and the requests in flight at once.

Every instance has a salt of its own: the images it makes (``image``, ``png``) differ from those of every
other test, which matters with content-addressed storage shared by the whole test run."""

import hashlib
import io
import secrets
import sys
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from PIL import Image

# How long a stalled body waits to be released before the handler goes on on its own.
STALL_LIMIT_SECONDS = 30.0


def image_bytes(size: tuple[int, int] = (3, 2), format: str = "PNG", colour: int = 0x3366CC) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format=format)
    return buffer.getvalue()


def noise_png(side: int, seed: int | str = 0) -> bytes:
    """A PNG of ``side`` × ``side`` noise pixels chosen by ``seed``; noise does not compress: about 3 × side²
    bytes."""
    pixels = hashlib.shake_256(f"{seed}".encode()).digest(side * side * 3)
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str | None = "image/png"
    headers: dict[str, str] = field(default_factory=dict)
    # "length": Content-Length; "chunked": Transfer-Encoding: chunked; "close": neither, the body ends when
    # the connection is closed.
    framing: Literal["length", "chunked", "close"] = "length"
    # Send this many bytes of the body, then close the connection.
    cut_after: int | None = None
    # Send this many bytes of the body, then the rest once the server is released (or closed).
    stall_after: int | None = None
    # Wait this long before answering (the request counts as in flight meanwhile).
    hold_seconds: float = 0.0
    # Send the body a byte at a time, this long apart (a server that trickles its answer).
    trickle_seconds: float = 0.0


@dataclass(frozen=True)
class Posted:
    headers: dict[str, str]
    body: bytes


def redirect(location: str, status: int = 302) -> Reply:
    return Reply(status, b"", None, {"Location": location})


NOT_FOUND = Reply(404, b"not found", "text/plain")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that closes its connection early (a refused or abandoned download) is expected.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class LoopbackServer:
    def __init__(self) -> None:
        self.salt = secrets.token_hex(8)
        self._replies: dict[str, deque[Reply]] = {}
        self._requests: Counter[str] = Counter()
        self._posted: dict[str, list[Posted]] = {}
        self._lock = threading.Lock()
        self._in_flight = 0
        self.max_in_flight = 0
        # Set once a body has stalled, and once stalled bodies may go on.
        self.stalling = threading.Event()
        self.released = threading.Event()
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self.port: int = self._server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    # -- what to answer -----------------------------------------------------------------------------------
    def serve(self, path: str, *replies: Reply) -> str:
        """Answer ``path`` with ``replies`` in turn, the last one again and again; returns its URL."""
        assert replies
        with self._lock:
            self._replies[path] = deque(replies)
        return self.url(path)

    def image(self, path: str) -> str:
        """Answer ``path`` with a PNG of its own (see ``png``); returns its URL."""
        return self.serve(path, Reply(body=self.png(path)))

    def png(self, path: str, *, side: int = 4) -> bytes:
        """The noise PNG of this server for ``path``: the one ``image`` serves there."""
        return noise_png(side, f"{self.salt}{path}")

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def requests(self, path: str | None = None) -> int:
        """Requests received for ``path``, or for all paths."""
        with self._lock:
            return self._requests[path] if path is not None else self._requests.total()

    def posted(self, path: str) -> list["Posted"]:
        """The POST requests received for ``path``, in order."""
        with self._lock:
            return list(self._posted.get(path, ()))

    def release(self) -> None:
        """Let stalled bodies go on."""
        self.released.set()

    def __enter__(self) -> "LoopbackServer":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

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

    def _enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server._enter()
                try:
                    self._answer(server._next(self.path))
                except OSError:
                    # The client went away (a refused, cancelled or abandoned download).
                    self.close_connection = True
                finally:
                    server._leave()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with server._lock:
                    server._posted.setdefault(self.path, []).append(Posted(dict(self.headers.items()), body))
                self.do_GET()

            def _answer(self, reply: Reply) -> None:
                if reply.hold_seconds:
                    time.sleep(reply.hold_seconds)
                self.send_response(reply.status)
                if reply.content_type is not None:
                    self.send_header("Content-Type", reply.content_type)
                if reply.framing == "length":
                    self.send_header("Content-Length", str(len(reply.body)))
                elif reply.framing == "chunked":
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                body = reply.body
                if reply.cut_after is not None:
                    self._write(reply, body[: reply.cut_after], last=False)
                    self.close_connection = True
                    return
                if reply.stall_after is not None:
                    self._write(reply, body[: reply.stall_after], last=False)
                    server.stalling.set()
                    server.released.wait(STALL_LIMIT_SECONDS)
                    body = body[reply.stall_after :]
                self._write(reply, body, last=True)

            def _write(self, reply: Reply, data: bytes, *, last: bool) -> None:
                if reply.trickle_seconds:
                    for byte in range(len(data)):
                        self.wfile.write(data[byte : byte + 1])
                        self.wfile.flush()
                        time.sleep(reply.trickle_seconds)
                elif reply.framing != "chunked":
                    self.wfile.write(data)
                else:
                    for start in range(0, len(data), 4096):
                        chunk = data[start : start + 4096]
                        self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    if last:
                        self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
