"""The request time limit: a request not answered in time gets 503 ``REQUEST_TIMEOUT`` in the envelope and
leaves nothing behind; quick requests are not affected."""

from collections.abc import AsyncIterator

import httpx
import pytest

from catalog_import.app import create_app
from catalog_import.config import Settings
from tests.factories import Api, assert_error, product


@pytest.fixture
async def hurried(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app that answers within 50 ms (tokens of the usual app are valid on it)."""
    app = create_app(settings.model_copy(update={"request_timeout_seconds": 0.05}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


async def test_slow_push_gets_503_and_stages_nothing(api: Api, hurried: httpx.AsyncClient) -> None:
    import_id = await api.start()
    body = {"products": [product(f"SLOW-{n:04}") for n in range(1000)]}

    response = await hurried.post(f"/api/import/{import_id}/record", json=body, headers=api.headers)

    assert_error(response, 503, "REQUEST_TIMEOUT")
    assert response.headers["Retry-After"] == "1"
    status = await api.status(import_id)
    assert status["progress"]["total"] == 0


async def test_quick_requests_are_answered(hurried: httpx.AsyncClient) -> None:
    assert (await hurried.get("/health")).status_code == 200
