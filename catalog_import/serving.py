"""Serving the API from several processes on one machine: uvicorn's supervisor starts them on one socket,
each builds its app from the environment, and exactly one of them runs the machine's import worker (the
one holding a lock file; when it dies, the process started in its place takes the lock over)."""

import os
import sys
from pathlib import Path
from typing import IO

from fastapi import FastAPI

from catalog_import.config import Settings
from catalog_import.garbage import tune_garbage_collection
from catalog_import.logs import configure_logging

# Set by ``serve`` for the processes it starts: where the lock of the in-process worker is, when one runs.
WORKER_LOCK_VARIABLE = "CATALOG_IMPORT_SERVE_WORKER_LOCK"


def take_lock(path: Path) -> IO[bytes] | None:
    """Lock ``path`` unless another process holds it: the open file, which holds the lock until it is
    closed or the process ends; None when it is held elsewhere."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+b")
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle


def app_from_environment() -> FastAPI:
    """The app of one of several API processes: settings from the environment ``serve`` prepared (the
    embedded servers' URLs included), the import worker if this process takes the worker's lock."""
    from catalog_import.app import create_app

    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    lock_path = os.environ.get(WORKER_LOCK_VARIABLE)
    lock = take_lock(Path(lock_path)) if lock_path else None
    application = create_app(settings, run_worker=lock is not None)
    # Held as long as the app (the process) lives.
    application.state.worker_lock = lock
    tune_garbage_collection()
    return application
