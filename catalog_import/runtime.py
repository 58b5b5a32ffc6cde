"""What the jobs of one worker process share, built at its start-up. It sits below every stage: each
stage's jobs take from it what they need, and the commit stage adds what only its jobs use."""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog_import.media.services import MediaServices
from catalog_import.queue import ImportQueue


@dataclass
class WorkerRuntime:
    session_factory: async_sessionmaker[AsyncSession]
    queue: ImportQueue
    stalled_after_seconds: int
    media: MediaServices
