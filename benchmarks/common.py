"""What every benchmark shares: the servers to run against (given or embedded) and a scratch database on
them, a loopback file server, the figures and their formatting, the machine and commit a run measured,
and appending a row to a results file."""

import argparse
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from benchmarks.static_files import DIRECTORY_VARIABLE
from catalog_import.config import Settings
from catalog_import.embedded import embedded_postgres, embedded_redis, free_port
from catalog_import.logs import configure_logging
from catalog_import.migrations import scratch_database

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"

# Progress goes to stderr; the tables to stdout.
console = Console(stderr=True, highlight=False)


# -- figures -------------------------------------------------------------------------------------------


def show(value: float | None, pattern: str = "{:,.0f}") -> str:
    """A figure for a table, or a dash for one not measured."""
    return "—" if value is None else pattern.format(value)


def percentile(values: Sequence[float], percent: int) -> float | None:
    """The ``percent`` percentile of ``values`` (inclusive method), or None without values."""
    ordered = sorted(values)
    if len(ordered) < 2:
        return ordered[0] if ordered else None
    return statistics.quantiles(ordered, n=100, method="inclusive")[percent - 1]


def machine() -> str:
    """Platform, CPUs and memory of this machine."""
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        found = re.search(r"^MemTotal:\s+(\d+) kB", meminfo.read_text(), re.MULTILINE)
        if found:
            memory = f", {int(found.group(1)) / 1024**2:.1f} GiB"
    return f"{platform.platform()}, {os.cpu_count()} CPUs{memory}"


def git_commit() -> str:
    """The commit the server code comes from, with ``+changes`` when the package, the migrations or
    ``pyproject.toml`` differ from it (read-only git commands)."""
    git = shutil.which("git")
    if git is None:
        return "unknown"

    def output(*args: str) -> str | None:
        result = subprocess.run(
            [git, "--no-optional-locks", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
        )
        return result.stdout.strip() if result.returncode == 0 else None

    head = output("rev-parse", "--short", "HEAD")
    if not head:
        return "unknown"
    changes = output("status", "--porcelain", "--", "catalog_import", "alembic", "pyproject.toml")
    return head + ("+changes" if changes else "")


def append_row(path: Path, header: str, cells: Sequence[str], *, section: str = "") -> None:
    """Append one table row to a results file. A new file gets ``header`` first; with a ``section`` (a
    Markdown heading, its explanation and its table's header), the section is appended first when the
    file does not have it yet, so that older sections and their rows stay as they were."""
    if not path.exists():
        path.write_text(header)
    if section:
        heading = section.splitlines()[0]
        existing = path.read_text()
        if heading not in existing.splitlines():
            with path.open("a") as results:
                results.write(("\n" if not existing.endswith("\n\n") else "") + section)
    with path.open("a") as results:
        results.write("| " + " | ".join(cells) + " |\n")


# -- servers and the scratch database ------------------------------------------------------------------


def add_server_options(parser: argparse.ArgumentParser) -> None:
    """The options every benchmark shares: the commit batch size and the servers to run against."""
    parser.add_argument(
        "--batch-size",
        type=int,
        default=Settings.model_fields["commit_batch_size"].default,
        help="records per commit transaction (default: the server's, %(default)s)",
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server URL; the benchmark creates and drops a database of its own on it "
        "(default: an embedded PostgreSQL)",
    )
    parser.add_argument(
        "--redis-url", help="a Redis URL; a queue name of the run's own is used (default: an embedded Redis)"
    )


@contextmanager
def servers(database_url: str | None, redis_url: str | None) -> Iterator[tuple[str, str]]:
    """The PostgreSQL server and Redis to use: the given URLs, or embedded ones in a temporary directory."""
    with ExitStack() as stack:
        if database_url is None or redis_url is None:
            # Short paths: PostgreSQL's socket path must stay under 108 bytes.
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ci-bench-")))
            if database_url is None:
                database_url = stack.enter_context(embedded_postgres(root / "pg"))
            if redis_url is None:
                redis_url = stack.enter_context(embedded_redis(root / "redis"))
        yield database_url, redis_url


@dataclass(frozen=True)
class Run:
    """Where a benchmark runs and what it measures: the machine, the commit, a scratch database, Redis."""

    machine: str
    commit: str
    database_url: str
    redis_url: str


@contextmanager
def benchmark_run(args: argparse.Namespace) -> Iterator[Run]:
    """What every benchmark sets up first: quiet logs, the machine and commit measured, the servers of
    ``--database-url``/``--redis-url`` (embedded ones otherwise) and a migrated database of the run's own,
    dropped at the end."""
    # pgserver's platformdirs call warns when XDG_RUNTIME_DIR is unset (containers, CI).
    warnings.filterwarnings("ignore", category=UserWarning, module="platformdirs.*")
    configure_logging("WARNING", json=False)
    # Taken before the run: the code measured is the code loaded now.
    machine_text, commit = machine(), git_commit()
    with (
        servers(args.database_url, args.redis_url) as (server_url, redis_url),
        scratch_database(server_url, "catalog_import_bench") as database_url,
    ):
        yield Run(machine_text, commit, database_url, redis_url)


# -- a loopback file server ----------------------------------------------------------------------------


def wait_for_port(port: int, process: "subprocess.Popen[bytes]", what: str, timeout: float = 30) -> None:
    """Wait until something listens on the loopback ``port``, or ``process`` died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex((LOOPBACK, port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start")


@dataclass(frozen=True)
class FileServer:
    """``benchmarks.static_files`` serving ``directory`` as ``base_url`` on 127.0.0.1, in ``process``."""

    directory: Path
    base_url: str
    process: "subprocess.Popen[bytes]"


@contextmanager
def file_server(directory: Path) -> Iterator[FileServer]:
    """Serve ``directory`` on 127.0.0.1 from a process of its own, stopped at the end. Files are read
    when they are requested, so they may be written after the server started."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "benchmarks.static_files:app", "--host", LOOPBACK]
    command += ["--port", str(port), "--http", "httptools", "--loop", "uvloop", "--no-access-log"]
    process = subprocess.Popen(
        [*command, "--log-level", "warning"],
        cwd=PROJECT_ROOT,
        env={**os.environ, DIRECTORY_VARIABLE: str(directory)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process, "the file server")
        yield FileServer(directory, f"http://{LOOPBACK}:{port}", process)
    finally:
        stop_process(process)


def stop_process(process: "subprocess.Popen[bytes]", timeout: float = 30) -> None:
    """SIGTERM, then SIGKILL when it has not ended after ``timeout`` seconds."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
