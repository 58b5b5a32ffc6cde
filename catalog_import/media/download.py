"""Fetch media from their source URLs: streamed to a temporary file with a size limit, hashed on the way,
retried with backoff on network errors and 5xx answers, redirects followed with the address rules applied
at every hop, the type decided by the bytes, and the file kept in content-addressed storage.

One ``Downloader`` serves a whole worker process: its semaphore bounds the downloads in flight however
many jobs run, and its connection pool is shared."""

import asyncio
import hashlib
from dataclasses import dataclass
from pathlib import Path

import httpx
import structlog

from catalog_import.addresses import AddressPolicy, ForbiddenAddress, GuardedTransport, check_fetch_url
from catalog_import.media.sniff import sniff
from catalog_import.media.storage import MediaStorage
from catalog_import.metrics import MediaDownloadMeter

logger = structlog.get_logger(__name__)

CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class DownloadOptions:
    max_bytes: int = 50 * 1024 * 1024
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    total_timeout: float = 300.0
    retries: int = 3
    backoff_seconds: float = 0.5
    concurrency: int = 16
    max_redirects: int = 5
    allowed_hosts: tuple[str, ...] = ()
    user_agent: str = "catalog-import media fetcher"


@dataclass(frozen=True, slots=True)
class StoredFile:
    sha256: str
    size: int
    mime_type: str
    width: int | None
    height: int | None


class DownloadError(Exception):
    """A media that could not be fetched or is not acceptable; ``code`` is the problem code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Retryable(Exception):
    pass


class Downloader:
    def __init__(self, storage: MediaStorage, options: DownloadOptions) -> None:
        self.storage = storage
        self.options = options
        self._limit = asyncio.Semaphore(options.concurrency)
        self._client = httpx.AsyncClient(
            transport=GuardedTransport(
                AddressPolicy(options.allowed_hosts),
                httpx.Limits(
                    max_connections=options.concurrency, max_keepalive_connections=options.concurrency
                ),
            ),
            timeout=httpx.Timeout(options.read_timeout, connect=options.connect_timeout),
            follow_redirects=True,
            max_redirects=options.max_redirects,
            headers={"User-Agent": options.user_agent},
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def fetch(self, url: str) -> StoredFile:
        """Download ``url`` into storage; raise DownloadError with the reason otherwise: whatever goes wrong
        with one download is that media's failure, never its import's. Every fetch is counted in the
        metrics by its outcome (``ok`` or the problem code)."""
        meter = MediaDownloadMeter()
        try:
            try:
                check_fetch_url(url)
            except ValueError as exc:
                raise DownloadError("MEDIA_URL_FORBIDDEN", f"Media {url} is not fetched: it {exc}") from exc
            async with self._limit:
                meter.start()
                stored = await self._fetch_in_time(url)
        except DownloadError as exc:
            meter.done(exc.code)
            raise
        except Exception as exc:
            logger.exception("media download failed unexpectedly", url=url)
            meter.done("MEDIA_DOWNLOAD_FAILED")
            raise DownloadError(
                "MEDIA_DOWNLOAD_FAILED", f"Media {url} could not be downloaded: {type(exc).__name__}: {exc}"
            ) from exc
        meter.done("ok", stored.size)
        return stored

    async def _fetch_in_time(self, url: str) -> StoredFile:
        """The download with its retries, cut off after ``total_timeout``: a server that trickles its bytes
        keeps neither the download nor its import waiting."""
        try:
            async with asyncio.timeout(self.options.total_timeout):
                return await self._fetch_with_retries(url)
        except TimeoutError as exc:
            raise DownloadError(
                "MEDIA_DOWNLOAD_FAILED",
                f"Media {url} could not be downloaded within {self.options.total_timeout:g} s",
            ) from exc

    async def _fetch_with_retries(self, url: str) -> StoredFile:
        for attempt in range(self.options.retries + 1):
            try:
                return await self._fetch_once(url)
            except _Retryable as exc:
                if attempt == self.options.retries:
                    raise DownloadError(
                        "MEDIA_DOWNLOAD_FAILED", f"Media {url} could not be downloaded: {exc}"
                    ) from exc
                logger.info("media download retried", url=url, attempt=attempt + 1, reason=str(exc))
                await asyncio.sleep(self.options.backoff_seconds * 2**attempt)
        raise AssertionError("unreachable")

    async def _fetch_once(self, url: str) -> StoredFile:
        with self.storage.temporary_file() as temporary:
            try:
                async with self._client.stream("GET", url) as response:
                    if response.status_code >= 500:
                        raise _Retryable(f"HTTP {response.status_code}")
                    if response.status_code >= 400:
                        raise DownloadError(
                            "MEDIA_DOWNLOAD_FAILED",
                            f"Media {url} could not be downloaded: HTTP {response.status_code}",
                        )
                    declared = response.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > self.options.max_bytes:
                        raise self._too_large(url)
                    digest, size = await self._save(response, temporary, url)
            except ForbiddenAddress as exc:
                raise DownloadError("MEDIA_URL_FORBIDDEN", f"Media {url} is not fetched: {exc}") from exc
            except httpx.UnsupportedProtocol as exc:
                raise DownloadError(
                    "MEDIA_URL_FORBIDDEN", f"Media {url} redirects to a URL that is not http(s)"
                ) from exc
            except httpx.TooManyRedirects as exc:
                raise DownloadError("MEDIA_DOWNLOAD_FAILED", f"Media {url} redirects too often") from exc
            except (httpx.TransportError, httpx.DecodingError) as exc:
                raise _Retryable(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from exc
            file_type = await asyncio.to_thread(sniff, temporary)
            if file_type is None:
                raise DownloadError(
                    "MEDIA_TYPE_NOT_ALLOWED",
                    f"Media {url} is not an image (JPEG, PNG, GIF, WebP, AVIF, SVG) or a PDF",
                )
            await asyncio.to_thread(self.storage.keep, temporary, digest)
            return StoredFile(digest, size, file_type.mime_type, file_type.width, file_type.height)

    async def _save(self, response: httpx.Response, temporary: Path, url: str) -> tuple[str, int]:
        digest = hashlib.sha256()
        size = 0
        with temporary.open("wb") as file:
            async for chunk in response.aiter_bytes(CHUNK_BYTES):
                size += len(chunk)
                if size > self.options.max_bytes:
                    raise self._too_large(url)
                digest.update(chunk)
                file.write(chunk)
        return digest.hexdigest(), size

    def _too_large(self, url: str) -> DownloadError:
        return DownloadError("MEDIA_TOO_LARGE", f"Media {url} is larger than {self.options.max_bytes} bytes")
