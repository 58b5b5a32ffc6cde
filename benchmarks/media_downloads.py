"""Media download throughput (PERFORMANCE.md, P9): N distinct JPEG files of about 50 KB served by a
separate loopback file server process, fetched through the server's Downloader (address checks, streaming
to disk, SHA-256, type and dimensions by the bytes, content-addressed storage) with its bounded concurrency,
against a baseline measured in the same run: plain httpx GETs of the same files with the same concurrency,
bodies read and dropped.

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

import httpx
from PIL import Image
from rich.console import Console
from rich.table import Table

from benchmarks.common import LOOPBACK, append_row, file_server, git_commit, machine
from catalog_import.media.download import Downloader, DownloadOptions
from catalog_import.media.storage import LocalMediaStorage

RESULTS = Path(__file__).with_name("results-media.md")
HEADER = """# Media download results

One row per run of `python -m benchmarks.media_downloads` (and of the harness, `python -m benchmarks`,
which runs the same measurement for P9): N distinct JPEG files of about 50 KB from a loopback file server
process. **baseline**: plain httpx GETs, same concurrency, bodies dropped; **downloader**: the server's
Downloader (address checks, streaming to disk, hashing, type and dimensions, content-addressed storage).
Target (P9): at least 200 downloads/s.

| date (UTC) | machine | commit | files | KB each | concurrency | baseline files/s | downloader files/s | ×baseline |
|---|---|---|---:|---:|---:|---:|---:|---:|
"""


@dataclass(frozen=True)
class MediaFigures:
    files: int
    concurrency: int
    average_bytes: int
    baseline_seconds: float
    downloader_seconds: float

    @property
    def baseline_per_second(self) -> float:
        return self.files / self.baseline_seconds

    @property
    def downloader_per_second(self) -> float:
        return self.files / self.downloader_seconds

    @property
    def ratio(self) -> float:
        return self.downloader_per_second / self.baseline_per_second


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


async def baseline(urls: list[str], concurrency: int) -> float:
    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency), trust_env=False) as client:

        async def get(url: str) -> None:
            async with limit:
                response = await client.get(url)
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(get(url) for url in urls))
        return time.perf_counter() - started


async def downloader(urls: list[str], concurrency: int, storage_dir: Path) -> float:
    options = DownloadOptions(concurrency=concurrency, allowed_hosts=(LOOPBACK,))
    fetcher = Downloader(LocalMediaStorage(storage_dir), options)
    try:
        started = time.perf_counter()
        files = await asyncio.gather(*(fetcher.fetch(url) for url in urls))
        elapsed = time.perf_counter() - started
    finally:
        await fetcher.aclose()
    assert len({file.sha256 for file in files}) == len(urls)
    return elapsed


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
            base = await baseline(urls, concurrency)
            fetched = await downloader(urls, concurrency, root / "store")
    return MediaFigures(count, concurrency, size, base, fetched)


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
            f"{figures.baseline_per_second:,.0f}",
            f"{figures.downloader_per_second:,.0f}",
            f"{figures.ratio:.2f}",
        ],
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
    for column in ("", "seconds", "files/s", "×baseline"):
        table.add_column(column, justify="right")
    table.add_row(
        "plain httpx", f"{figures.baseline_seconds:.2f}", f"{figures.baseline_per_second:,.0f}", "1.00"
    )
    table.add_row(
        "Downloader",
        f"{figures.downloader_seconds:.2f}",
        f"{figures.downloader_per_second:,.0f}",
        f"{figures.ratio:.2f}",
    )
    Console().print(table)
    append_result(figures, machine_text, commit)


if __name__ == "__main__":
    main()
