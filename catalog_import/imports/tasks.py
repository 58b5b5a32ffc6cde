"""The import session's periodic work in a worker: the purge of imports past the retention period."""

from typing import Any

from catalog_import.imports.retention import purge_expired
from catalog_import.runtime import WorkerRuntime

PURGE_EVERY_MINUTES = 10


async def purge_expired_imports(ctx: dict[str, Any]) -> int:
    """Purge the imports past ``ctx["retention_days"]``; how many were purged. Runs on every worker; the
    purge itself keeps concurrent runs apart."""
    runtime: WorkerRuntime = ctx["runtime"]
    result = await purge_expired(runtime.session_factory, ctx["retention_days"])
    return result.imports
