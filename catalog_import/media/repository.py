"""SQL of stored files: the lock under which a file is taken into use or removed, and whether a media row
still uses it."""

from collections.abc import Iterable

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_import.models import Media


class MediaFileRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_files(self, sha256s: Iterable[str]) -> None:
        """Hold, until the transaction ends, the locks under which stored files are taken into use and
        removed: a file is never removed while a transaction that will use it is still open."""
        for sha256 in sorted(set(sha256s)):
            await self.session.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended('media-file:' || :sha256, 0))"),
                {"sha256": sha256},
            )

    async def file_in_use(self, sha256: str) -> bool:
        used = await self.session.scalar(select(Media.id).where(Media.sha256 == sha256).limit(1))
        return used is not None
