"""A loopback HTTP server answering every path with a small PNG (a different colour per path), so that
the media URLs of the tests can really be downloaded. Started once per test process."""

import hashlib
import io
import threading
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image


@cache
def png(path: str) -> bytes:
    colour = tuple(hashlib.sha256(path.encode()).digest()[:3])
    buffer = io.BytesIO()
    Image.new("RGB", (2, 1), colour).save(buffer, format="PNG")
    return buffer.getvalue()


class ImageHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = png(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def start_image_server() -> str:
    server = ThreadingHTTPServer(("127.0.0.1", 0), ImageHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/images"


IMAGES = start_image_server()
"""Base URL of the image server: ``f"{IMAGES}/shoe.png"``."""
