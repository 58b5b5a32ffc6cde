"""Media download throughput (PERFORMANCE.md, P9): N distinct JPEG files of about 50 KB served by a
separate loopback file server process, fetched through the server's Downloader (address checks, streaming
to disk, SHA-256, type and dimensions by the bytes, content-addressed storage) with its bounded concurrency,
against a baseline measured in the same run: plain httpx GETs of the same files with the same concurrency,
bodies read and dropped.

    .venv/bin/python -m benchmarks.media_downloads [--files 1000] [--concurrency 16]

Prints a table and appends a row to benchmarks/results-media.md."""

import argparse
import asyncio
import io
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from PIL import Image
from rich.console import Console
from rich.table import Table

from catalog_import.media.download import Downloader, DownloadOptions
from catalog_import.media.storage import LocalMediaStorage

RESULTS = Path(__file__).with_name("results-media.md")
HEADER = """# Media download results

One row per run of `python -m benchmarks.media_downloads`: N distinct JPEG files of about 50 KB from a
loopback file server process. **baseline**: plain httpx GETs, same concurrency, bodies dropped;
**downloader**: the server's Downloader (address checks, streaming to disk, hashing, type and dimensions,
content-addressed storage). Target (P9): at least 200 downloads/s.

| date (UTC) | machine | commit | files | KB each | concurrency | baseline files/s | downloader files/s | ×baseline |
|---|---|---|---:|---:|---:|---:|---:|---:|
"""


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("file server did not start")


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
    options = DownloadOptions(concurrency=concurrency, allowed_hosts=("127.0.0.1",))
    fetcher = Downloader(LocalMediaStorage(storage_dir), options)
    try:
        started = time.perf_counter()
        files = await asyncio.gather(*(fetcher.fetch(url) for url in urls))
        elapsed = time.perf_counter() - started
    finally:
        await fetcher.aclose()
    assert len({file.sha256 for file in files}) == len(urls)
    return elapsed


def commit_hash() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="media-bench-") as temporary:
        root = Path(temporary)
        served = root / "served"
        served.mkdir()
        size = make_files(served, args.files)
        port = free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "http.server",
                str(port),
                "--bind",
                "127.0.0.1",
                "--directory",
                str(served),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(port)
            urls = [f"http://127.0.0.1:{port}/{n:05d}.jpg" for n in range(args.files)]
            base = asyncio.run(baseline(urls, args.concurrency))
            fetched = asyncio.run(downloader(urls, args.concurrency, root / "store"))
        finally:
            server.terminate()
            server.wait()
    base_rate, rate = args.files / base, args.files / fetched
    table = Table(title=f"{args.files} files of {size // 1024} KB, concurrency {args.concurrency}")
    for column in ("", "seconds", "files/s", "×baseline"):
        table.add_column(column, justify="right")
    table.add_row("plain httpx", f"{base:.2f}", f"{base_rate:,.0f}", "1.00")
    table.add_row("Downloader", f"{fetched:.2f}", f"{rate:,.0f}", f"{rate / base_rate:.2f}")
    Console().print(table)
    machine = f"{platform.platform()}, {os.cpu_count()} CPUs"
    row = (
        f"| {datetime.now(UTC):%Y-%m-%d %H:%M} | {machine} | {commit_hash()} | {args.files:,} | {size // 1024} "
        f"| {args.concurrency} | {base_rate:,.0f} | {rate:,.0f} | {rate / base_rate:.2f} |\n"
    )
    if not RESULTS.exists():
        RESULTS.write_text(HEADER)
    with RESULTS.open("a") as results:
        results.write(row)


if __name__ == "__main__":
    main()
