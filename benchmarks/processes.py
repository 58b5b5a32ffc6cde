"""The processes a benchmark runs and watches: the server's API and worker processes (``python -m
catalog_import serve --no-worker`` and ``worker``), the minimal endpoint, and a sampler of their resident
memory and CPU time read from ``/proc`` (the harness itself and PostgreSQL's backends included)."""

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis

from benchmarks.common import LOOPBACK, PROJECT_ROOT, stop_process, wait_for_port
from catalog_import.embedded import free_port

# Variables of the environment the server processes do not inherit: the developer's own settings, and
# proxies (everything the benchmark sends stays on 127.0.0.1).
NOT_INHERITED_PREFIXES = ("CATALOG_IMPORT_",)
NOT_INHERITED = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}


def child_environment(settings: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without server settings and proxies, plus ``settings``."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(NOT_INHERITED_PREFIXES) and name.lower() not in NOT_INHERITED
    }
    return {**inherited, **settings}


# -- memory --------------------------------------------------------------------------------------------


def proc_status(pid: int) -> dict[str, float]:
    """VmRSS, VmHWM (peak RSS), RssAnon … of ``pid`` in MB; empty when the process is gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    figures: dict[str, float] = {}
    for line in lines:
        name, _, value = line.partition(":")
        if value.strip().endswith(" kB"):
            figures[name] = int(value.split()[0]) / 1024
    return figures


def is_postgres(pid: int) -> bool:
    try:
        return "postgres" in Path(f"/proc/{pid}/comm").read_text()
    except OSError:
        return False


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU time ``pid`` used so far, or None when the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (in parentheses) may hold spaces; the fields after it start with the state.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@dataclass
class Backends:
    """PostgreSQL backends of the run's database: the largest peak RSS of one (VmHWM, which counts the
    shared buffers it touched) and the largest sum of their private memory (RssAnon) seen at once."""

    pids: set[int] = field(default_factory=set)
    seen: set[int] = field(default_factory=set)
    largest_peak: float = 0.0
    private_sum_peak: float = 0.0


POSTGRES = "postgres"


class ProcessSampler:
    """Samples named processes and PostgreSQL's backends every ``interval`` seconds in a thread.

    Memory: the peak RSS per process per phase (the largest VmRSS seen while that phase ran) and per
    process overall (the largest of those and of the kernel's own peak, VmHWM, read at every sample and
    when the process is let go, before it is stopped). CPU: the CPU seconds each process (and the backends
    together, as ``postgres``) used per phase, from the difference between two samples; a backend first
    seen counts all it used so far. The phase is whatever ``phase`` was set to last; ``phases`` keeps
    their order and wall time."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.pids: dict[str, int] = {}
        self.peaks: dict[str, float] = {}
        self.phase_peaks: dict[tuple[str, str], float] = {}
        self.cpu: dict[tuple[str, str], float] = {}
        self.phases: dict[str, float] = {}
        self.ready: dict[str, float] = {}
        self.backends = Backends()
        self._phase = "harness start"
        self._phase_started = time.perf_counter()
        self._last_cpu: dict[int, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="process-sampler", daemon=True)

    @property
    def phase(self) -> str:
        return self._phase

    @phase.setter
    def phase(self, phase: str) -> None:
        self._sample_all()
        with self._lock:
            now = time.perf_counter()
            self.phases[self._phase] = self.phases.get(self._phase, 0.0) + now - self._phase_started
            self._phase, self._phase_started = phase, now

    def __enter__(self) -> "ProcessSampler":
        # This process ran before: only what it uses from now on counts.
        self._last_cpu[os.getpid()] = cpu_seconds(os.getpid()) or 0.0
        self.watch("harness", os.getpid())
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for name in list(self.pids):
            self.release(name)
        self.phase = "end"

    def watch(self, name: str, pid: int) -> None:
        with self._lock:
            self.pids[name] = pid
        self._sample_one(name, pid)

    def release(self, name: str) -> None:
        """Take a last sample of ``name`` (its VmHWM, its CPU time) and stop watching it: call it before
        stopping the process."""
        with self._lock:
            pid = self.pids.pop(name, None)
        if pid is not None:
            self._sample_one(name, pid)

    def mark_ready(self, name: str) -> None:
        """Note the RSS of ``name`` now, once it is ready for work: its growth is counted from there."""
        with self._lock:
            pid = self.pids.get(name)
        rss = proc_status(pid).get("VmRSS") if pid is not None else None
        if rss is not None:
            self.ready[name] = rss

    def set_backends(self, pids: set[int]) -> None:
        with self._lock:
            self.backends.pids = {pid for pid in pids if is_postgres(pid)}

    def _count_cpu(self, group: str, pid: int) -> None:
        used = cpu_seconds(pid)
        if used is None:
            return
        with self._lock:
            delta = used - self._last_cpu.get(pid, 0.0)
            self._last_cpu[pid] = used
            key = (self._phase, group)
            self.cpu[key] = self.cpu.get(key, 0.0) + delta

    def _sample_one(self, name: str, pid: int) -> None:
        status = proc_status(pid)
        if not status:
            return
        self._count_cpu(name, pid)
        rss, hwm = status.get("VmRSS", 0.0), status.get("VmHWM", 0.0)
        with self._lock:
            self.peaks[name] = max(self.peaks.get(name, 0.0), rss, hwm)
            key = (self._phase, name)
            self.phase_peaks[key] = max(self.phase_peaks.get(key, 0.0), rss)

    def _sample_backends(self) -> None:
        private = 0.0
        with self._lock:
            pids = set(self.backends.pids)
        for pid in pids:
            status = proc_status(pid)
            if not status:
                continue
            self._count_cpu(POSTGRES, pid)
            private += status.get("RssAnon", 0.0)
            with self._lock:
                self.backends.seen.add(pid)
                self.backends.largest_peak = max(self.backends.largest_peak, status.get("VmHWM", 0.0))
        with self._lock:
            self.backends.private_sum_peak = max(self.backends.private_sum_peak, private)

    def _sample_all(self) -> None:
        with self._lock:
            watched = list(self.pids.items())
        for name, pid in watched:
            self._sample_one(name, pid)
        self._sample_backends()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample_all()


# -- server processes ----------------------------------------------------------------------------------


def spawned_children(pid: int) -> list[int]:
    """The processes ``pid`` started through multiprocessing's spawn (not its resource tracker)."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with suppress(OSError):
            stat = (entry / "stat").read_text()
            parent = int(stat[stat.rindex(")") + 2 :].split()[1])
            if parent == pid and b"spawn_main" in (entry / "cmdline").read_bytes():
                children.append(int(entry.name))
    return children


@dataclass
class Started:
    name: str
    process: "subprocess.Popen[bytes]"
    log: Path


class Processes:
    """Processes started on 127.0.0.1, each logging to a file of its own under ``logs``, watched by
    ``sampler``, and stopped (SIGTERM) at the end in the reverse order of their start."""

    def __init__(self, logs: Path, sampler: ProcessSampler) -> None:
        self.logs = logs
        self.sampler = sampler
        self.running: dict[str, Started] = {}
        self.children: dict[str, list[str]] = {}

    def start(self, name: str, command: list[str], env: Mapping[str, str]) -> Started:
        log = self.logs / f"{name.replace(' ', '-')}.log"
        with log.open("ab") as output:
            process = subprocess.Popen(
                command, cwd=PROJECT_ROOT, env=dict(env), stdout=output, stderr=subprocess.STDOUT
            )
        started = Started(name, process, log)
        self.running[name] = started
        self.sampler.watch(name, process.pid)
        return started

    def watch_children(self, started: Started, count: int, ready_line: str, timeout: float = 120) -> None:
        """Watch the ``count`` processes ``started`` spawned (a uvicorn supervisor's), as ``{name} 1``…,
        once its log shows ``ready_line`` that many times."""
        deadline = time.monotonic() + timeout
        while True:
            self.check(started, started.name)
            children = spawned_children(started.process.pid)
            ready = started.log.read_text(errors="replace").count(ready_line)
            if len(children) >= count and ready >= count:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{started.name}: {ready} of {count} processes got ready")
            time.sleep(0.2)
        for index, pid in enumerate(sorted(children)[:count], start=1):
            self.sampler.watch(f"{started.name} {index}", pid)
        self.children[started.name] = [f"{started.name} {index}" for index in range(1, count + 1)]

    def stop(self, name: str) -> None:
        started = self.running.pop(name)
        for child in self.children.pop(name, []):
            self.sampler.release(child)
        self.sampler.release(name)
        stop_process(started.process)

    def stop_all(self) -> None:
        for name in reversed(list(self.running)):
            self.stop(name)

    def check(self, started: Started, what: str) -> None:
        if started.process.poll() is not None:
            tail = started.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{what} exited with {started.process.returncode}:\n{tail}")


@dataclass(frozen=True)
class ServerSettings:
    """What the server processes are started with (as ``CATALOG_IMPORT_*`` variables)."""

    variables: dict[str, str]
    queue_name: str
    redis_url: str


class Server:
    """``catalog-import serve --no-worker`` and any number of ``catalog-import worker`` processes."""

    def __init__(self, processes: Processes, settings: ServerSettings) -> None:
        self.processes = processes
        self.settings = settings
        self.env = child_environment(settings.variables)
        self.workers: list[str] = []
        self.worker_logs: list[Path] = []
        self._worker_count = 0

    def start_api(self, api_processes: int = 1, timeout: float = 120) -> str:
        """Start the API (``api_processes`` of them under one supervisor, watched as ``api 1``…) and wait
        until it is ready; returns its base URL."""
        port = free_port()
        command = [sys.executable, "-m", "catalog_import", "serve", "--no-worker", "--host", LOOPBACK]
        command += ["--port", str(port), "--processes", str(api_processes)]
        started = self.processes.start("api", command, self.env)
        if api_processes > 1:
            self.processes.watch_children(started, api_processes, "Application startup complete")
        base_url = f"http://{LOOPBACK}:{port}"
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=base_url, trust_env=False, timeout=5) as client:
            while True:
                self.processes.check(started, "the API process")
                with suppress(httpx.TransportError):
                    if client.get("/ready").status_code == 200:
                        return base_url
                if time.monotonic() > deadline:
                    raise RuntimeError("the API process did not get ready")
                time.sleep(0.2)

    def start_worker(self, timeout: float = 120) -> str:
        """Start one more worker process and wait until it polls the queue; returns its name. Readiness is
        the queue's health-check key, which arq writes at a worker's first poll (and then hourly): it is
        removed first, so that the new worker writes it again."""
        self._worker_count += 1
        name = f"worker {self._worker_count}"
        client = redis.Redis.from_url(self.settings.redis_url)
        try:
            health_key = f"{self.settings.queue_name}:health-check"
            client.delete(health_key)
            started = self.processes.start(name, [sys.executable, "-m", "catalog_import", "worker"], self.env)
            deadline = time.monotonic() + timeout
            while not client.exists(health_key):
                self.processes.check(started, name)
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not start polling")
                time.sleep(0.1)
        finally:
            client.close()
        self.workers.append(name)
        self.worker_logs.append(started.log)
        return name

    def stop_worker(self, name: str) -> None:
        self.workers.remove(name)
        self.processes.stop(name)


@contextmanager
def minimal_endpoint(processes: Processes, database_url: str, workers: int = 1) -> Iterator[str]:
    """The minimal endpoint in uvicorn processes of its own (``workers`` of them); yields its base URL."""
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "benchmarks.minimal_endpoint:create_app",
        "--host", LOOPBACK, "--port", str(port), "--workers", str(workers), "--no-access-log",
        "--log-level", "info" if workers > 1 else "warning",
    ]  # fmt: skip
    env = child_environment({"MINIMAL_ENDPOINT_DATABASE_URL": database_url})
    started = processes.start("minimal endpoint", command, env)
    try:
        wait_for_port(port, started.process, "the minimal endpoint")
        if workers > 1:
            processes.watch_children(started, workers, "Application startup complete")
        yield f"http://{LOOPBACK}:{port}"
    finally:
        processes.stop("minimal endpoint")
