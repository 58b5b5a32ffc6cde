"""The media services one process shares: the file storage and, while URL upload is enabled, the
downloader. Built once from the settings by the worker (and the API, which serves the files)."""

from dataclasses import dataclass

import structlog

from catalog_import.config import Settings
from catalog_import.media.download import Downloader, DownloadOptions
from catalog_import.media.storage import LocalMediaStorage, MediaStorage

logger = structlog.get_logger(__name__)


@dataclass
class MediaServices:
    storage: MediaStorage
    # None while ``MEDIA_URL_UPLOAD_ENABLED`` is off: media are then skipped with a warning.
    downloader: Downloader | None

    async def aclose(self) -> None:
        if self.downloader is not None:
            await self.downloader.aclose()


def media_storage(settings: Settings) -> LocalMediaStorage:
    return LocalMediaStorage(settings.media_path)


def media_services(settings: Settings) -> MediaServices:
    storage = media_storage(settings)
    removed = storage.remove_stale_temporary_files()
    if removed:
        logger.info("removed partial downloads of stopped processes", files=removed)
    moved = storage.move_earlier_files()
    if moved:
        logger.info("moved stored files into the current layout", files=moved)
    downloader = None
    if settings.media_url_upload_enabled:
        downloader = Downloader(
            storage,
            DownloadOptions(
                max_bytes=settings.media_max_bytes,
                connect_timeout=settings.media_connect_timeout_seconds,
                read_timeout=settings.media_read_timeout_seconds,
                total_timeout=settings.media_download_timeout_seconds,
                retries=settings.media_download_retries,
                backoff_seconds=settings.media_retry_backoff_seconds,
                concurrency=settings.media_download_concurrency,
                allowed_hosts=tuple(settings.media_allowed_hosts),
            ),
        )
    return MediaServices(storage, downloader)
