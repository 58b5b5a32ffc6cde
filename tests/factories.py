"""Helpers for tests: a signed-in API client with shortcuts for the import lifecycle, and builders of
valid records to vary."""

import re
import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog_import.auth.service import create_integration
from catalog_import.committer.runner import ImportRunner, RunnerOptions
from catalog_import.committer.validation import Rehearsal
from catalog_import.config import Settings
from catalog_import.media.services import MediaServices
from catalog_import.models import ImportValidation


def product(number: str, **fields: Any) -> dict[str, Any]:
    """A product record that can be created: tax by name with a rate, one EUR price."""
    record: dict[str, Any] = {
        "productNumber": number,
        "name": f"Product {number}",
        "tax": {"name": "Standard rate", "taxRate": 19},
        "prices": [{"currency": "EUR", "gross": 11.9, "net": 10, "linked": True}],
    }
    record.update(fields)
    return record


ERROR_CODE = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$")


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is the contract's error envelope with this status and code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) <= {"code", "message", "details"}, body
    assert ERROR_CODE.match(body["code"]), body
    assert body["code"] == code, body
    assert isinstance(body["message"], str), body
    assert body["message"], body
    if "details" in body:
        assert isinstance(body["details"], list), body
    return body


class Api:
    """One integration talking to the app."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        session_factory: async_sessionmaker[AsyncSession],
        settings: Settings,
        media: MediaServices,
        client_id: str,
        client_secret: str,
        webhook_secret: str,
    ) -> None:
        self.client = client
        self.session_factory = session_factory
        self.settings = settings
        self.media = media
        self.client_id = client_id
        self.client_secret = client_secret
        self.webhook_secret = webhook_secret
        self.headers: dict[str, str] = {}

    @classmethod
    async def signed_in(
        cls,
        client: httpx.AsyncClient,
        session_factory: async_sessionmaker[AsyncSession],
        settings: Settings,
        media: MediaServices,
        name: str,
    ) -> "Api":
        async with session_factory() as session, session.begin():
            created = await create_integration(session, name)
        api = cls(
            client,
            session_factory,
            settings,
            media,
            created.client_id,
            created.client_secret,
            created.webhook_secret,
        )
        response = await client.post(
            "/api/oauth/token",
            json={
                "grant_type": "client_credentials",
                "client_id": api.client_id,
                "client_secret": api.client_secret,
            },
        )
        assert response.status_code == 200, response.text
        api.headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
        return api

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.get(path, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs)

    async def post(self, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return await self.client.post(
            path, json=json, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs
        )

    async def start(self, name: str = "test-import", **config: Any) -> str:
        response = await self.post("/api/import/catalog/start", json={"name": name, **config})
        assert response.status_code == 200, response.text
        import_id: str = response.json()["id"]
        return import_id

    async def push(self, import_id: str, body: Any, kind: str = "record") -> dict[str, Any]:
        """Push and expect 200; returns the PushResult."""
        suffix = {"record": "record", "delete": "record/delete", "unassign": "record/unassign"}[kind]
        response = await self.post(f"/api/import/{import_id}/{suffix}", json=body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def commit(self, import_id: str) -> None:
        response = await self.post(f"/api/import/{import_id}/commit")
        assert response.status_code == 204, response.text

    async def status(self, import_id: str) -> dict[str, Any]:
        response = await self.get(f"/api/import/{import_id}/status")
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def runner(
        self,
        import_id: str,
        *,
        batch_size: int = 50,
        media_batch_size: int = RunnerOptions.media_batch_size,
        media: MediaServices | None = None,
    ) -> ImportRunner:
        """A runner for a committed import, as a worker would run it (with the tests' media services)."""
        options = RunnerOptions(batch_size=batch_size, media_batch_size=media_batch_size, wait_seconds=0.001)
        return ImportRunner(self.session_factory, uuid.UUID(import_id), options, media or self.media)

    async def run(
        self, import_id: str, *, batch_size: int = 50, media: MediaServices | None = None
    ) -> dict[str, Any]:
        """Write a committed import in this process and return its final status."""
        await self.runner(import_id, batch_size=batch_size, media=media).run()
        return await self.status(import_id)

    async def commit_and_run(self, import_id: str) -> dict[str, Any]:
        await self.commit(import_id)
        return await self.run(import_id)

    async def validate(self, import_id: str) -> None:
        response = await self.post(f"/api/import/{import_id}/validate")
        assert response.status_code == 204, response.text

    async def rehearsal(self, import_id: str, *, media: MediaServices | None = None) -> Rehearsal:
        """The rehearsal of the import's latest validation, as a worker would run it."""
        async with self.session_factory() as session:
            validation_id = await session.scalar(
                select(ImportValidation.id).where(ImportValidation.import_id == uuid.UUID(import_id))
            )
        assert validation_id is not None
        return Rehearsal(
            engine=self.session_factory.kw["bind"],
            session_factory=self.session_factory,
            options=RunnerOptions(batch_size=50, wait_seconds=0.001),
            media=media or self.media,
            import_id=uuid.UUID(import_id),
            validation_id=validation_id,
            heartbeat_seconds=1.0,
        )

    async def validate_and_run(self, import_id: str, *, media: MediaServices | None = None) -> dict[str, Any]:
        """Validate the import, rehearse it in this process and return the import's status."""
        await self.validate(import_id)
        await (await self.rehearsal(import_id, media=media)).run()
        return await self.status(import_id)

    async def import_records(self, body: Any, **config: Any) -> dict[str, Any]:
        """Start, push one body (expecting no errors), commit and run: the final status."""
        import_id = await self.start(**config)
        result = await self.push(import_id, body)
        assert not result["containsErrors"], result
        return await self.commit_and_run(import_id)

    async def product(self, number: str) -> dict[str, Any]:
        response = await self.get("/api/catalog/products", params={"productNumber": number})
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        assert len(items) == 1, items
        found: dict[str, Any] = items[0]
        return found
