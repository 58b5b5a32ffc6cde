"""SQL of stored files: the locks under which files are taken into use or removed, and which of them no
media row uses any more. Both take a whole batch's files in one statement."""

from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# In the order of the array (sorted by the caller), so that two transactions locking overlapping sets of
# files take them in the same order and cannot deadlock; a volatile function in the select list is
# evaluated after the ORDER BY.
LOCK_FILES = """
SELECT pg_advisory_xact_lock(hashtextextended('media-file:' || f.sha256, 0))
FROM unnest(CAST(:sha256s AS text[])) WITH ORDINALITY AS f(sha256, position)
ORDER BY f.position
"""

UNUSED_FILES = """
SELECT f.sha256 FROM unnest(CAST(:sha256s AS text[])) AS f(sha256)
WHERE NOT EXISTS (SELECT 1 FROM media m WHERE m.sha256 = f.sha256)
"""


class MediaFileRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_files(self, sha256s: Iterable[str]) -> None:
        """Hold, until the transaction ends, the locks under which stored files are taken into use and
        removed: a file is never removed while a transaction that will use it is still open."""
        ordered = sorted(set(sha256s))
        if ordered:
            await self.session.execute(text(LOCK_FILES), {"sha256s": ordered})

    async def unused_files(self, sha256s: Iterable[str]) -> list[str]:
        """Those of the files that no media row uses."""
        rows = await self.session.scalars(text(UNUSED_FILES), {"sha256s": sorted(set(sha256s))})
        return list(rows)
