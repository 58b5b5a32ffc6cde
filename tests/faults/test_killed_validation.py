"""A worker killed with SIGKILL in the middle of a validation's rehearsal (a media download hanging) leaves
nothing behind in the catalog or the media directory: its transaction dies with its connection, the stall
check queues the validation again once its heartbeat is older than ``STALLED_AFTER_SECONDS``, and another
worker rehearses it from the start and reports it. The validation runs on real worker processes here, from
``POST /validate`` on."""

import hashlib

import pytest

from catalog_import.config import Settings
from tests.factories import Api, product
from tests.faults.conftest import STALLED_AFTER_SECONDS, WorkerFactory
from tests.faults.support import Database, eventually
from tests.media.servers import LoopbackServer, Reply

pytestmark = pytest.mark.faults


async def validation_done(api: Api, import_id: str) -> dict[str, object] | None:
    validation: dict[str, object] | None = (await api.status(import_id))["validation"]
    return validation if validation and validation["status"] == "done" else None


async def test_a_validation_whose_worker_is_killed_is_rehearsed_again(
    fault_api: Api, fault_settings: Settings, start_worker: WorkerFactory, database: Database
) -> None:
    api = fault_api
    with LoopbackServer() as server:
        body = server.png("/rehearsed.png", side=8)
        url = server.serve("/rehearsed.png", Reply(body=body, stall_after=10), Reply(body=body))
        first = await start_worker(fault_settings)
        import_id = await api.start("killed while validating")
        pushed = await api.push(
            import_id,
            {
                "categories": [{"name": "KV"}],
                "products": [
                    product("KV-1", media=[{"url": url}]),
                    product("KV-2", categories=[{"path": ["KV"]}]),
                ],
            },
        )
        assert not pushed["containsErrors"], pushed
        await api.validate(import_id)
        await eventually(server.stalling.is_set, "the rehearsal's download to stall")
        first.kill()
        second = await start_worker(fault_settings)

        await second.wait_logged("stalled validation queued again")
        validation = await eventually(
            lambda: validation_done(api, import_id), "the validation to be done", STALLED_AFTER_SECONDS + 20
        )
        server.release()

    assert validation["totals"] == {
        "product": 2,
        "media": 1,
        "category": 1,
        "tax": 1,
        "total": 5,
        "failures": 0,
    }
    assert server.requests("/rehearsed.png") == 2
    assert (await api.status(import_id))["status"] == "started"
    assert await database.product_numbers("KV-") == []
    assert await database.count("categories", "name = 'KV'") == 0
    assert await database.count("media", "source_url = $1", url) == 0
    assert await database.count("imports", "rehearsal_of IS NOT NULL") == 0
    assert list(api.settings.media_path.rglob(hashlib.sha256(body).hexdigest())) == []
