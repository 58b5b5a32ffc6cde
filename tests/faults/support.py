"""What the fault tests start, stop and kill: `catalog-import worker` processes, a Redis server without
persistence and a PostgreSQL server of their own (pgserver's binaries) that can be restarted on the same
port; polling with deadlines; and reads of the catalog and the staging tables straight from PostgreSQL."""

import asyncio
import inspect
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import asyncpg

from catalog_import.committer.repository import RECORD_STATES
from catalog_import.embedded import free_port, redis_server_command, wait_for_redis
from tests.factories import Api

# How long any awaited condition may take before the test fails.
DEADLINE_SECONDS = 45.0

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T] | T],
    what: str,
    timeout: float = DEADLINE_SECONDS,
    interval: float = 0.05,
) -> T:
    """Poll ``probe`` (a function or a coroutine function) until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result  # type: ignore[return-value]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(interval)


async def wait_until_done(api: Api, import_id: str, timeout: float = DEADLINE_SECONDS) -> dict[str, Any]:
    """Poll the import's status until it is done; that status."""

    async def done() -> dict[str, Any] | None:
        status = await api.status(import_id)
        return status if status["status"] == "done" else None

    status = await eventually(done, f"import {import_id} to be done", timeout=timeout, interval=0.1)
    assert status is not None
    return status


def plain_url(url: str) -> str:
    """A URL asyncpg connects to directly."""
    return url.replace("postgresql+asyncpg://", "postgresql://")


class WorkerProcess:
    """A `catalog-import worker` subprocess with JSON logs kept in a file."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "catalog_import", "worker"],
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def events(self) -> list[dict[str, Any]]:
        """The structured log entries (arq's own lines are plain text and left out)."""
        entries = []
        for line in self.log().splitlines():
            if line.startswith("{"):
                try:
                    entries.append(json.loads(line))
                except ValueError:
                    continue
        return entries

    def logged(self, event: str, **fields: Any) -> bool:
        return any(
            entry.get("event") == event and all(entry.get(k) == v for k, v in fields.items())
            for entry in self.events()
        )

    async def wait_ready(self) -> None:
        async def started() -> bool:
            assert self.alive(), f"worker exited:\n{self.log()}"
            return "Starting worker" in self.log()

        await eventually(started, "the worker to start")

    async def wait_logged(self, event: str, **fields: Any) -> None:
        async def seen() -> bool:
            assert self.alive(), f"worker exited:\n{self.log()}"
            return self.logged(event, **fields)

        await eventually(seen, f"the worker to log {event!r}")

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind runs in the worker."""
        self.process.send_signal(signal.SIGKILL)
        # Reaped at once, so that its pid counts as gone (temporary files name their owner's pid).
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


class RedisServer:
    """A Redis server of a test's own on a fixed loopback port, without persistence: after a restart its
    queues are empty."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = redis_server_command(self.port, self.directory, persistent=False)
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_redis(self.port, self.process)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


class PostgresServer:
    """A PostgreSQL server of a test's own, from pgserver's binaries, listening on a fixed loopback port so
    that it can be stopped (``immediate``: as if it crashed; ``fast``: connections are told and closed) and
    started again at the same address."""

    USER = "pgserver"

    def __init__(self) -> None:
        from pgserver._commands import POSTGRES_BIN_PATH

        self.bin = POSTGRES_BIN_PATH
        self.directory = Path(tempfile.mkdtemp(prefix="ci-pg-fault-"))
        self.data = self.directory / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._run_as: dict[str, Any] = {}
        if os.geteuid() == 0:
            # PostgreSQL refuses to run as root: run it as the user pgserver uses for that.
            from pgserver.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

            ensure_user_exists(self.USER)
            ensure_prefix_permissions(self.directory)
            ensure_prefix_permissions(self.bin)
            readable = stat.S_IRGRP | stat.S_IROTH
            ensure_folder_permissions(self.bin, readable | stat.S_IXGRP | stat.S_IXOTH)
            ensure_folder_permissions(self.bin.parent / "lib", readable)
            shutil.chown(self.directory, self.USER, self.USER)
            self._run_as = {"user": self.USER}
        self._command(
            "initdb", "-D", str(self.data), "--auth=trust", "-U", "postgres", "--encoding=utf8", "--no-sync"
        )

    def _command(self, name: str, *args: str) -> None:
        subprocess.run(
            [str(self.bin / name), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
            **self._run_as,
        )

    def start(self) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k '' -c fsync=off -c max_connections=100"
        log = str(self.directory / "postgres.log")
        self._command("pg_ctl", "-D", str(self.data), "-w", "-t", "30", "-l", log, "-o", options, "start")

    def stop(self, mode: str = "fast", *, wait: bool = True) -> None:
        """Stop the server; without ``wait``, only ask it to (a smart shutdown waits for open sessions)."""
        self._command("pg_ctl", "-D", str(self.data), "-w" if wait else "-W", "-t", "30", "-m", mode, "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def close(self) -> None:
        if self.running():
            self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)


class Locker:
    """A transaction of the test's own that holds row locks a worker or a request will wait for."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection
        self.pid: int = connection.get_server_pid()

    @classmethod
    async def open(cls, database_url: str) -> "Locker":
        connection = await asyncpg.connect(plain_url(database_url))
        await connection.execute("BEGIN")
        return cls(connection)

    async def lock(self, query: str, *args: Any) -> int:
        """Run a locking query in the transaction; the number of rows it locked."""
        return len(await self.connection.fetch(query, *args))

    async def hold(self, statement: str) -> None:
        """Take a lock (``LOCK TABLE …``) in the transaction."""
        await self.connection.execute(statement)

    async def release(self) -> None:
        if not self.connection.is_closed():
            await self.connection.execute("ROLLBACK")
            await self.connection.close()

    def abandon(self) -> None:
        """For a connection the server has dropped."""
        self.connection.terminate()


class Database:
    """Reads from PostgreSQL that no HTTP answer shows: who waits for whom, record states, catalog rows."""

    def __init__(self, database_url: str) -> None:
        self.url = plain_url(database_url)

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        connection = await asyncpg.connect(self.url)
        try:
            return list(await connection.fetch(query, *args))
        finally:
            await connection.close()

    async def value(self, query: str, *args: Any) -> Any:
        rows = await self.fetch(query, *args)
        return rows[0][0] if rows else None

    async def waiting_for(self, locker: Locker) -> int:
        """Backends waiting for a lock the locker holds."""
        count: int = await self.value(
            "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", locker.pid
        )
        return count

    async def record_states(self, import_id: str) -> dict[tuple[str, str], int]:
        """Staged records of an import by (entity, state)."""
        states = RECORD_STATES.replace(":import_id", "$1")
        rows = await self.fetch(
            f"SELECT entity, state, count(*) FROM ({states}) AS s GROUP BY 1, 2",  # noqa: S608 (a constant)
            uuid.UUID(import_id),
        )
        return {(row[0], row[1]): row[2] for row in rows}

    async def product_numbers(self, prefix: str) -> list[str]:
        """Product numbers in the catalog starting with ``prefix``, duplicates included."""
        rows = await self.fetch(
            "SELECT product_number FROM products WHERE product_number LIKE $1 ORDER BY 1", prefix + "%"
        )
        return [row[0] for row in rows]

    async def count(self, table: str, where: str = "TRUE", *args: Any) -> int:
        count: int = await self.value(f"SELECT count(*) FROM {table} WHERE {where}", *args)  # noqa: S608
        return count
