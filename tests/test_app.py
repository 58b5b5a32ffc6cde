"""The application as a whole: liveness and readiness, the error envelope of routing errors and unexpected
failures, the served OpenAPI document, and start-up (bootstrap integration, shared signing key)."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.exc import OperationalError

from catalog_import.app import create_app
from catalog_import.config import Settings
from tests.factories import Api, assert_error

CONTRACT_OPERATIONS = {
    ("post", "/api/oauth/token"),
    ("post", "/api/import/catalog/start"),
    ("post", "/api/import/{import_id}/record"),
    ("post", "/api/import/{import_id}/record/delete"),
    ("post", "/api/import/{import_id}/record/unassign"),
    ("post", "/api/import/{import_id}/commit"),
    ("get", "/api/import/{import_id}/status"),
    ("post", "/api/import/{import_id}/status"),
    ("post", "/api/import/{import_id}/cancel"),
    ("get", "/api/import"),
    ("get", "/api/import/{import_id}/failures"),
    ("get", "/api/catalog/products"),
    ("get", "/api/catalog/products/{product_id}"),
    ("get", "/api/catalog/categories"),
    ("get", "/api/catalog/categories/{category_id}"),
    ("get", "/api/catalog/media"),
    ("get", "/api/catalog/media/{media_id}"),
    ("get", "/api/catalog/taxes"),
    ("get", "/health"),
    ("get", "/ready"),
}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client on a freshly started app of these settings (its own engine and queue connection)."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


async def token_response(client: httpx.AsyncClient, client_id: str, client_secret: str) -> httpx.Response:
    return await client.post(
        "/api/oauth/token",
        json={"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret},
    )


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


@pytest.fixture
async def openapi(app_client: httpx.AsyncClient) -> dict[str, Any]:
    response = await app_client.get("/api/openapi.json")
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


class TestHealth:
    async def test_answers_without_a_token(self, app_client: httpx.AsyncClient) -> None:
        response = await app_client.get("/health")

        assert response.status_code == 200, response.text
        assert response.json() == {"status": "ok"}

    async def test_ignores_an_invalid_token(self, app_client: httpx.AsyncClient) -> None:
        response = await app_client.get("/health", headers={"Authorization": "Bearer not-a-token"})

        assert response.status_code == 200, response.text

    async def test_wrong_method_is_not_allowed(self, app_client: httpx.AsyncClient) -> None:
        response = await app_client.post("/health")

        assert_error(response, 405, "METHOD_NOT_ALLOWED")


class TestReady:
    async def test_database_and_redis_are_ok(self, app_client: httpx.AsyncClient) -> None:
        response = await app_client.get("/ready")

        assert response.status_code == 200, response.text
        assert response.json() == {"status": "ready", "database": "ok", "redis": "ok"}

    async def test_ignores_an_invalid_token(self, app_client: httpx.AsyncClient) -> None:
        response = await app_client.get("/ready", headers={"Authorization": "Bearer not-a-token"})

        assert response.status_code == 200, response.text


class TestRoutingErrors:
    @pytest.mark.parametrize(
        "path", ["/nope", "/api", "/api/nope", "/api/catalog/nope", "/api/import/catalog", "/media"]
    )
    async def test_unknown_route_is_not_found(self, app_client: httpx.AsyncClient, path: str) -> None:
        response = await app_client.get(path)

        assert_error(response, 404, "NOT_FOUND")

    async def test_unknown_route_is_not_found_with_a_token(self, api: Api) -> None:
        response = await api.get(f"/api/import/{uuid.uuid4().hex}/unknown-action")

        assert_error(response, 404, "NOT_FOUND")

    @pytest.mark.parametrize(
        ("method", "path", "allowed"),
        [
            ("GET", "/api/import/catalog/start", {"POST"}),
            ("DELETE", "/api/import/{id}/status", {"GET", "POST"}),
            ("PUT", "/api/import/{id}/commit", {"POST"}),
            ("GET", "/api/import/{id}/cancel", {"POST"}),
            ("POST", "/api/catalog/products", {"GET"}),
            ("DELETE", "/api/catalog/products/{id}", {"GET"}),
            ("GET", "/api/oauth/token", {"POST"}),
            ("DELETE", "/ready", {"GET"}),
        ],
    )
    async def test_wrong_method_is_not_allowed(
        self, api: Api, method: str, path: str, allowed: set[str]
    ) -> None:
        url = path.replace("{id}", uuid.uuid4().hex)

        response = await api.client.request(method, url, headers=api.headers)

        assert_error(response, 405, "METHOD_NOT_ALLOWED")
        listed = {value.strip() for value in response.headers["allow"].split(",")}
        assert listed
        assert listed <= allowed | {"HEAD"}

    async def test_wrong_method_is_not_allowed_without_a_token(self, app_client: httpx.AsyncClient) -> None:
        response = await app_client.delete("/api/catalog/taxes")

        assert_error(response, 405, "METHOD_NOT_ALLOWED")


class TestUnexpectedErrors:
    """Failures no route handles are answered in the envelope too."""

    @asynccontextmanager
    async def raising(self, settings: Settings, error: Exception) -> AsyncIterator[httpx.AsyncClient]:
        app: FastAPI = create_app(settings)

        async def fail() -> None:
            raise error

        app.add_api_route("/api/fail", fail)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client

    async def test_bug_is_an_internal_error(self, settings: Settings) -> None:
        async with self.raising(settings, RuntimeError("a bug")) as client:
            response = await client.get("/api/fail")

        body = assert_error(response, 500, "INTERNAL_ERROR")
        assert "a bug" not in body["message"]

    @pytest.mark.parametrize(
        "error",
        [OperationalError("SELECT 1", {}, ConnectionRefusedError()), ConnectionRefusedError()],
        ids=["database-error", "connection-refused"],
    )
    async def test_unreachable_database_is_unavailable(self, settings: Settings, error: Exception) -> None:
        async with self.raising(settings, error) as client:
            response = await client.get("/api/fail")

        assert_error(response, 503, "SERVICE_UNAVAILABLE")
        assert response.headers["retry-after"] == "1"


class TestOpenApi:
    async def test_is_served_without_a_token(self, app_client: httpx.AsyncClient) -> None:
        response = await app_client.get("/api/openapi.json")

        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")

    async def test_describes_the_api(self, openapi: dict[str, Any]) -> None:
        assert openapi["openapi"].startswith("3.")
        assert openapi["info"]["title"] == "Catalog Import API"
        assert openapi["info"]["version"]

    async def test_lists_the_contract_operations(self, openapi: dict[str, Any]) -> None:
        listed = {(method, path) for method, path, _ in operations(openapi)}

        assert sorted(CONTRACT_OPERATIONS - listed) == []

    async def test_operations_have_unique_ids(self, openapi: dict[str, Any]) -> None:
        ids = [operation.get("operationId") for _, _, operation in operations(openapi)]

        assert all(ids)
        assert len(set(ids)) == len(ids)

    async def test_import_and_catalog_operations_need_the_bearer_token(self, openapi: dict[str, Any]) -> None:
        schemes = openapi["components"]["securitySchemes"]
        bearer_names = {
            name
            for name, scheme in schemes.items()
            if scheme["type"] == "http" and scheme["scheme"].lower() == "bearer"
        }
        unprotected = [
            (method, path)
            for method, path, operation in operations(openapi)
            if path.startswith(("/api/import", "/api/catalog"))
            and not any(set(requirement) & bearer_names for requirement in operation.get("security", []))
        ]

        assert bearer_names
        assert unprotected == []

    @pytest.mark.parametrize("path", ["/api/oauth/token", "/health", "/ready"])
    async def test_public_operations_need_no_token(self, openapi: dict[str, Any], path: str) -> None:
        for operation in openapi["paths"][path].values():
            assert not operation.get("security")

    async def test_token_request_is_documented_as_json(self, openapi: dict[str, Any]) -> None:
        # Form bodies stay accepted (tests/auth), but one documented body lets generators call it.
        content = openapi["paths"]["/api/oauth/token"]["post"]["requestBody"]["content"]

        assert set(content) == {"application/json"}
        assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/TokenRequest"}

    async def test_protected_operations_document_the_401(self, openapi: dict[str, Any]) -> None:
        missing = [
            (method, path)
            for method, path, operation in operations(openapi)
            if path.startswith(("/api/import", "/api/catalog")) and "401" not in operation["responses"]
        ]

        assert missing == []

    @pytest.mark.parametrize("prefix", ["/api/catalog", "/api/oauth", "/health", "/ready"])
    async def test_documented_errors_are_the_envelope(self, openapi: dict[str, Any], prefix: str) -> None:
        wrong = [
            (method, path, status, response)
            for method, path, operation in operations(openapi)
            if path.startswith(prefix)
            for status, response in operation["responses"].items()
            if status[0] in "45"
            and response.get("content", {}).get("application/json", {}).get("schema")
            != {"$ref": "#/components/schemas/ErrorResponse"}
        ]

        assert wrong == []

    async def test_envelope_schema_matches_the_contract(self, openapi: dict[str, Any]) -> None:
        envelope = openapi["components"]["schemas"]["ErrorResponse"]

        assert set(envelope["properties"]) == {"code", "message", "details"}
        assert set(envelope["required"]) == {"code", "message"}

    async def test_product_schema_has_the_contract_fields(self, openapi: dict[str, Any]) -> None:
        product = openapi["components"]["schemas"]["ProductView"]

        assert set(product["properties"]) == {
            "id", "productNumber", "name", "description", "active", "stock", "parentId", "customFields",
            "tax", "prices", "categories", "media", "properties", "options", "variantIds", "extensions",
            "createdAt", "updatedAt",
        }  # fmt: skip

    async def test_category_schema_has_the_contract_fields(self, openapi: dict[str, Any]) -> None:
        category = openapi["components"]["schemas"]["CategoryView"]

        assert set(category["properties"]) == {"id", "name", "parentId", "path", "active", "productCount"}

    async def test_pages_have_items_and_next_cursor(self, openapi: dict[str, Any]) -> None:
        pages = {name: schema for name, schema in openapi["components"]["schemas"].items() if "Page" in name}

        assert pages
        assert all(set(schema["properties"]) == {"items", "nextCursor"} for schema in pages.values())


class TestStartUp:
    async def test_bootstrap_integration_is_usable_at_once(self, settings: Settings) -> None:
        bootstrapped = settings.model_copy(
            update={"bootstrap_client_id": "ci_boot", "bootstrap_client_secret": SecretStr("boot-secret")}
        )

        async with running(bootstrapped) as client:
            response = await token_response(client, "ci_boot", "boot-secret")
            token = response.json()["access_token"]
            imports = await client.get("/api/import", headers={"Authorization": f"Bearer {token}"})

        assert response.status_code == 200, response.text
        assert imports.status_code == 200, imports.text

    async def test_restart_with_a_new_bootstrap_secret_replaces_the_old_one(self, settings: Settings) -> None:
        first = settings.model_copy(
            update={"bootstrap_client_id": "ci_boot", "bootstrap_client_secret": SecretStr("old-secret")}
        )
        second = first.model_copy(update={"bootstrap_client_secret": SecretStr("new-secret")})
        async with running(first):
            pass

        async with running(second) as client:
            old = await token_response(client, "ci_boot", "old-secret")
            new = await token_response(client, "ci_boot", "new-secret")

        assert_error(old, 401, "INVALID_CLIENT")
        assert new.status_code == 200, new.text

    async def test_processes_without_a_configured_key_accept_each_others_tokens(
        self, settings: Settings, api: Api
    ) -> None:
        generated = settings.model_copy(update={"secret_key": None})

        async with running(generated) as one, running(generated) as two:
            response = await token_response(one, api.client_id, api.client_secret)
            headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
            imports = await two.get("/api/import", headers=headers)

        assert response.status_code == 200, response.text
        assert imports.status_code == 200, imports.text

    async def test_token_of_the_configured_key_is_refused_by_a_generated_key(
        self, settings: Settings, api: Api
    ) -> None:
        generated = settings.model_copy(update={"secret_key": None})

        async with running(generated) as client:
            response = await client.get("/api/import", headers=api.headers)

        assert_error(response, 401, "UNAUTHORIZED")
