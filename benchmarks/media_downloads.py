"""Media download throughput (PERFORMANCE.md, P9): N distinct JPEG files of about 50 KB served by a
separate loopback file server process, fetched through the server's Downloader (address checks, hashing,
type and dimensions by the bytes, content-addressed storage) with its bounded concurrency, against a
baseline measured in the same run: plain GETs of the same files with the same concurrency and the same HTTP
client (aiohttp), bodies read and dropped. Plain httpx GETs are measured too, for reference. Each phase
reports its wall time and this process's CPU time (threads included) per download.

    .venv/bin/python -m benchmarks.media_downloads [--files 1000] [--concurrency 16]

Prints a table and appends a row to benchmarks/results-media.md. The harness (``python -m benchmarks``)
runs the same measurement and reports it as P9."""

import argparse
import asyncio
import io
import random
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import httpx
from PIL import Image
from rich.console import Console
from rich.table import Table

from benchmarks.common import LOOPBACK, append_row, file_server, git_commit, machine
from catalog_import.media.download import Downloader, DownloadOptions
from catalog_import.media.storage import LocalMediaStorage

RESULTS = Path(__file__).with_name("results-media.md")
SECTION = """## Downloader on aiohttp (from 2026-12-04)

Since the Downloader is built on aiohttp, **baseline** is plain aiohttp GETs (the same client, same
concurrency, bodies dropped); **httpx** plain httpx GETs in the same run, for reference. CPU: this
process's CPU time per download (threads included; the file server runs apart). Target (P9): the
Downloader ≥ 0.9× baseline.

| date (UTC) | machine | commit | files | KB each | concurrency | baseline files/s | httpx files/s | downloader files/s | ×baseline | CPU ms/download: baseline / httpx / downloader |
|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|
"""
HEADER = """# Media download results

One row per run of `python -m benchmarks.media_downloads` (and of the harness, `python -m benchmarks`,
which runs the same measurement for P9): N distinct JPEG files of about 50 KB from a loopback file server
process, fetched by the server's Downloader (address checks, hashing, type and dimensions,
content-addressed storage) and, in the same run, by plain GETs; each section's table says which.
"""


COMMIT_SECTION = """## Media commit (M1, from 2026-12-04)

The harness's M1 step: N new products with one distinct PNG of about 70 bytes each, served by the loopback
file server, pushed and then committed with 2 and with 1 worker. **commit s**: from `commit` to `done`;
**worker CPU**, **PostgreSQL CPU**: CPU of the worker processes and of PostgreSQL during the commit, per
media; **plain GETs**: the same files fetched in the harness by plain aiohttp GETs (concurrency 16) just
before, and their CPU per GET. Target (M1): ≥ 3,300 media/s with 2 workers, ≤ 0.6 ms of worker CPU per
media.

| date (UTC) | machine | commit | products | workers | commit s | media/s | worker CPU ms/media | PostgreSQL CPU ms/media | plain GETs files/s | GET CPU ms |
|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|
"""


@dataclass(frozen=True)
class MediaCommitFigures:
    """One media commit of the harness (M1)."""

    workers: int
    media: int
    commit_seconds: float
    worker_cpu_seconds: float
    postgres_cpu_seconds: float
    gets: "Phase"

    @property
    def per_second(self) -> float:
        return self.media / self.commit_seconds

    @property
    def worker_cpu_ms(self) -> float:
        return self.worker_cpu_seconds * 1000 / self.media

    @property
    def postgres_cpu_ms(self) -> float:
        return self.postgres_cpu_seconds * 1000 / self.media


@dataclass(frozen=True)
class Phase:
    """One way of fetching the files: its wall time and this process's CPU time."""

    files: int
    seconds: float
    cpu_seconds: float

    @property
    def per_second(self) -> float:
        return self.files / self.seconds

    @property
    def cpu_ms_per_file(self) -> float:
        return self.cpu_seconds * 1000 / self.files


@dataclass(frozen=True)
class MediaFigures:
    files: int
    concurrency: int
    average_bytes: int
    baseline: Phase
    httpx: Phase
    downloader: Phase

    @property
    def baseline_per_second(self) -> float:
        return self.baseline.per_second

    @property
    def downloader_per_second(self) -> float:
        return self.downloader.per_second

    @property
    def ratio(self) -> float:
        return self.downloader.per_second / self.baseline.per_second


class Clock:
    """Wall and CPU time of a phase."""

    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = time.process_time()

    def phase(self, files: int) -> Phase:
        return Phase(files, time.perf_counter() - self.wall, time.process_time() - self.cpu)


def make_files(directory: Path, count: int) -> int:
    """``count`` distinct JPEGs of about 50 KB (noise compresses badly); returns the average size."""
    rng = random.Random(7)
    noise = Image.frombytes("RGB", (240, 240), rng.randbytes(240 * 240 * 3))
    total = 0
    for n in range(count):
        image = noise.copy()
        image.putpixel((n % 240, n // 240 % 240), (n % 256, 0, 0))
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=90)
        (directory / f"{n:05d}.jpg").write_bytes(buffer.getvalue())
        total += buffer.tell()
    return total // count


async def plain_gets(urls: list[str], concurrency: int) -> Phase:
    """The baseline: aiohttp GETs, bodies read and dropped."""
    limit = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as client:

        async def get(url: str) -> None:
            async with limit, client.get(url) as response:
                response.raise_for_status()
                await response.read()

        clock = Clock()
        await asyncio.gather(*(get(url) for url in urls))
        return clock.phase(len(urls))


async def httpx_gets(urls: list[str], concurrency: int) -> Phase:
    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency), trust_env=False) as client:

        async def get(url: str) -> None:
            async with limit:
                response = await client.get(url)
                response.raise_for_status()

        clock = Clock()
        await asyncio.gather(*(get(url) for url in urls))
        return clock.phase(len(urls))


async def downloader(urls: list[str], concurrency: int, storage_dir: Path) -> Phase:
    options = DownloadOptions(concurrency=concurrency, allowed_hosts=(LOOPBACK,))
    fetcher = Downloader(LocalMediaStorage(storage_dir), options)
    try:
        clock = Clock()
        files = await asyncio.gather(*(fetcher.fetch(url) for url in urls))
        phase = clock.phase(len(urls))
    finally:
        await fetcher.aclose()
    assert len({file.sha256 for file in files}) == len(urls)
    return phase


async def measure(count: int, concurrency: int) -> MediaFigures:
    """Write ``count`` files to a temporary directory, serve them from a loopback file server process, and
    time the plain GETs and then the Downloader."""
    with tempfile.TemporaryDirectory(prefix="media-bench-") as temporary:
        root = Path(temporary)
        served = root / "served"
        served.mkdir()
        size = await asyncio.to_thread(make_files, served, count)
        with file_server(served) as server:
            urls = [f"{server.base_url}/{n:05d}.jpg" for n in range(count)]
            reference = await httpx_gets(urls, concurrency)
            base = await plain_gets(urls, concurrency)
            fetched = await downloader(urls, concurrency, root / "store")
    return MediaFigures(count, concurrency, size, base, reference, fetched)


def append_result(figures: MediaFigures, machine_text: str, commit: str) -> None:
    append_row(
        RESULTS,
        HEADER,
        [
            f"{datetime.now(UTC):%Y-%m-%d %H:%M}",
            machine_text,
            commit,
            f"{figures.files:,}",
            str(figures.average_bytes // 1024),
            str(figures.concurrency),
            f"{figures.baseline.per_second:,.0f}",
            f"{figures.httpx.per_second:,.0f}",
            f"{figures.downloader.per_second:,.0f}",
            f"{figures.ratio:.2f}",
            " / ".join(
                f"{phase.cpu_ms_per_file:.2f}"
                for phase in (figures.baseline, figures.httpx, figures.downloader)
            ),
        ],
        section=SECTION,
    )


def append_commit_results(commits: list[MediaCommitFigures], machine_text: str, commit: str) -> None:
    for figures in commits:
        append_row(
            RESULTS,
            HEADER,
            [
                f"{datetime.now(UTC):%Y-%m-%d %H:%M}",
                machine_text,
                commit,
                f"{figures.media:,}",
                str(figures.workers),
                f"{figures.commit_seconds:.1f}",
                f"{figures.per_second:,.0f}",
                f"{figures.worker_cpu_ms:.2f}",
                f"{figures.postgres_cpu_ms:.2f}",
                f"{figures.gets.per_second:,.0f}",
                f"{figures.gets.cpu_ms_per_file:.2f}",
            ],
            section=COMMIT_SECTION,
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    machine_text, commit = machine(), git_commit()
    figures = asyncio.run(measure(args.files, args.concurrency))
    table = Table(
        title=f"{args.files} files of {figures.average_bytes // 1024} KB, concurrency {args.concurrency}"
    )
    for column in ("", "seconds", "files/s", "×baseline", "CPU ms/file"):
        table.add_column(column, justify="right")
    for name, phase in (
        ("plain aiohttp (baseline)", figures.baseline),
        ("plain httpx", figures.httpx),
        ("Downloader", figures.downloader),
    ):
        table.add_row(
            name,
            f"{phase.seconds:.2f}",
            f"{phase.per_second:,.0f}",
            f"{phase.per_second / figures.baseline.per_second:.2f}",
            f"{phase.cpu_ms_per_file:.2f}",
        )
    Console().print(table)
    append_result(figures, machine_text, commit)


if __name__ == "__main__":
    main()
