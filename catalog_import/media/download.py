"""Fetch media from their source URLs: streamed with a size limit and hashed on the way, retried with
backoff on network errors and 5xx answers, redirects followed one hop at a time with the address rules
applied to each, the type decided by the bytes, and the file kept in content-addressed storage.

The client is aiohttp's, on a connector whose resolver refuses what the address rules refuse (the
connector connects to exactly the addresses the resolver returned); a host written as an IP address is
checked before each request. A body small enough is held in memory and written once; a larger one is
spooled to a temporary file as it arrives.

One ``Downloader`` serves a whole worker process: its semaphore bounds the downloads in flight however
many jobs run, and its connection pool is shared."""

import asyncio
import hashlib
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import aiohttp
import certifi
import structlog
from yarl import URL

from catalog_import.addresses import AddressPolicy, ForbiddenAddress, GuardedResolver, check_fetch_url
from catalog_import.media.sniff import sniff
from catalog_import.media.storage import MediaStorage
from catalog_import.metrics import MediaDownloadMeter

logger = structlog.get_logger(__name__)

# A body up to this size is held in memory and written to storage in one write; a larger one is spooled.
IN_MEMORY_BYTES = 1024 * 1024
REDIRECTS = frozenset({301, 302, 303, 307, 308})


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


@dataclass(slots=True)
class _Body:
    """A body as it was received: its bytes, or (past ``IN_MEMORY_BYTES``) the temporary file it was
    spooled to."""

    sha256: str
    size: int
    content: bytes | None


class Downloader:
    def __init__(self, storage: MediaStorage, options: DownloadOptions) -> None:
        self.storage = storage
        self.options = options
        self.policy = AddressPolicy(options.allowed_hosts)
        self._limit = asyncio.Semaphore(options.concurrency)
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=options.connect_timeout, sock_read=options.read_timeout
        )
        # Made on first use: aiohttp's session belongs to the event loop it is made in.
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self.options.concurrency,
                resolver=GuardedResolver(self.policy),
                ssl=ssl.create_default_context(cafile=certifi.where()),
            )
            # Proxies from the environment are not used (a proxy would connect on our behalf, unchecked).
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout,
                headers={"User-Agent": self.options.user_agent},
                trust_env=False,
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()

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
                body = await self._receive(url, temporary)
            except ForbiddenAddress as exc:
                raise DownloadError("MEDIA_URL_FORBIDDEN", f"Media {url} is not fetched: {exc}") from exc
            except aiohttp.InvalidURL as exc:
                raise DownloadError("MEDIA_URL_FORBIDDEN", f"Media {url} is not fetched: {exc}") from exc
            except aiohttp.ClientError as exc:
                # Its timeouts are TimeoutErrors too: caught here, they end this attempt, not the download.
                raise _Retryable(self._describe(exc)) from exc
            stored = await asyncio.to_thread(self._keep, body, temporary)
        if stored is None:
            raise DownloadError(
                "MEDIA_TYPE_NOT_ALLOWED",
                f"Media {url} is not an image (JPEG, PNG, GIF, WebP, AVIF, SVG) or a PDF",
            )
        return stored

    async def _receive(self, url: str, temporary: Path) -> _Body:
        """The body of ``url`` after its redirects, each hop's address checked before it is requested."""
        target = URL(url)
        for _hop in range(self.options.max_redirects + 1):
            self.policy.check_host(target.raw_host or "")
            async with self._client().get(target, allow_redirects=False) as response:
                if response.status in REDIRECTS and "Location" in response.headers:
                    target = self._next_hop(url, response)
                    continue
                if response.status >= 500:
                    raise _Retryable(f"HTTP {response.status}")
                if not 200 <= response.status < 300:
                    message = f"Media {url} could not be downloaded: HTTP {response.status}"
                    raise DownloadError("MEDIA_DOWNLOAD_FAILED", message)
                declared = response.content_length
                if declared is not None and declared > self.options.max_bytes:
                    raise self._too_large(url)
                return await self._read(response, temporary, url)
        raise DownloadError("MEDIA_DOWNLOAD_FAILED", f"Media {url} redirects too often")

    def _next_hop(self, url: str, response: aiohttp.ClientResponse) -> URL:
        location = response.headers["Location"]
        try:
            target = check_fetch_url(response.url.join(URL(location)))
        except ValueError as exc:
            raise DownloadError(
                "MEDIA_URL_FORBIDDEN", f"Media {url} redirects to {location}, which {exc}"
            ) from exc
        return target

    async def _read(self, response: aiohttp.ClientResponse, temporary: Path, url: str) -> _Body:
        """Hash the body as it arrives, holding it in memory up to ``IN_MEMORY_BYTES`` and spooling it to
        ``temporary`` past that."""
        digest = hashlib.sha256()
        size = 0
        chunks: list[bytes] = []
        spool: BinaryIO | None = None
        try:
            async for chunk in response.content.iter_any():
                size += len(chunk)
                if size > self.options.max_bytes:
                    raise self._too_large(url)
                digest.update(chunk)
                if spool is None and size <= IN_MEMORY_BYTES:
                    chunks.append(chunk)
                    continue
                if spool is None:
                    spool = temporary.open("wb")
                    spool.writelines(chunks)
                    chunks.clear()
                spool.write(chunk)
        finally:
            if spool is not None:
                spool.close()
        content = None if spool is not None else b"".join(chunks)
        return _Body(digest.hexdigest(), size, content)

    def _keep(self, body: _Body, temporary: Path) -> StoredFile | None:
        """The file's type by its bytes and, when it is accepted, the file in storage (in a thread: it
        reads headers and writes to disk)."""
        file_type = sniff(body.content if body.content is not None else temporary)
        if file_type is None:
            return None
        if body.content is not None:
            self.storage.store(body.content, body.sha256)
        else:
            self.storage.keep(temporary, body.sha256)
        return StoredFile(body.sha256, body.size, file_type.mime_type, file_type.width, file_type.height)

    def _describe(self, error: aiohttp.ClientError) -> str:
        if isinstance(error, aiohttp.ConnectionTimeoutError):
            return f"connect timeout: no connection within {self.options.connect_timeout:g} s"
        if isinstance(error, aiohttp.SocketTimeoutError):
            return f"read timeout: no data for {self.options.read_timeout:g} s"
        if isinstance(error, aiohttp.ClientPayloadError):
            return f"the body was cut short: {error}"
        return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__

    def _too_large(self, url: str) -> DownloadError:
        return DownloadError("MEDIA_TOO_LARGE", f"Media {url} is larger than {self.options.max_bytes} bytes")
