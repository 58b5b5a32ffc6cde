"""``serve`` with several API processes: they share the port, and one of them runs the import worker."""

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from catalog_import.config import Settings
from catalog_import.serving import take_lock
from tests.factories import product
from tests.live import TOKEN_REQUEST, serve_process


def test_the_worker_lock_is_held_by_one_taker_until_let_go(tmp_path: Path) -> None:
    lock = tmp_path / "locks" / "worker.lock"

    held = take_lock(lock)
    assert held is not None
    assert take_lock(lock) is None
    held.close()
    again = take_lock(lock)
    assert again is not None
    again.close()


def test_two_api_processes_take_pushes_and_one_commits(settings: Settings, tmp_path: Path) -> None:
    extra = {"CATALOG_IMPORT_API_PROCESSES": "2", "CATALOG_IMPORT_DATA_DIR": str(tmp_path)}
    with serve_process(settings, tmp_path, **extra) as url, httpx.Client(base_url=url, timeout=30) as client:
        token = client.post("/api/oauth/token", json=TOKEN_REQUEST).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        import_id = client.post("/api/import/catalog/start", json={"name": "two processes"}).json()["id"]

        def push(n: int) -> httpx.Response:
            return client.post(f"/api/import/{import_id}/record", json={"products": [product(f"TWO-{n}")]})

        with ThreadPoolExecutor(4) as pool:
            for response in pool.map(push, range(8)):
                assert response.status_code == 200, response.text
                assert not response.json()["containsErrors"], response.text
        assert client.post(f"/api/import/{import_id}/commit").status_code == 204
        for _ in range(200):
            status = client.get(f"/api/import/{import_id}/status").json()
            if status["status"] == "done":
                break
            time.sleep(0.1)
    assert status["status"] == "done", status
    assert status["totals"]["product"] == 8
    log = (tmp_path / "serve.log").read_text()
    assert log.count("Started server process") == 2, log
    assert log.count("Starting worker for") == 1, log
