"""POST /api/oauth/token and the bearer token every /api/import and /api/catalog route requires
(CONTRACT §1): credentials in, a short-lived token out; missing, malformed, foreign and expired tokens
refused; imports private to the integration that started them."""

import contextlib
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog_import.app import create_app
from catalog_import.auth.service import create_integration
from catalog_import.auth.tokens import AUDIENCE, TokenSigner
from catalog_import.config import Settings
from tests.factories import Api, assert_error, product


def protected_routes() -> list[tuple[str, str]]:
    """Every (method, path) the app documents under /api/import and /api/catalog."""
    app = create_app(Settings(database_url="postgresql://unused/unused", redis_url="redis://unused"))
    routes = set()
    for path, operations in app.openapi()["paths"].items():
        if path.startswith(("/api/import", "/api/catalog")):
            routes.update((method.upper(), path) for method in operations if method != "parameters")
    return sorted(routes)


PROTECTED_ROUTES = protected_routes()
ROUTE_IDS = [f"{method} {path}" for method, path in PROTECTED_ROUTES]


async def call(
    client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    """Call a route template with its path parameters filled in (ids that exist nowhere)."""
    url = re.sub(r"\{[^}]+\}", uuid.uuid4().hex, path)
    body = {"name": "an import"} if method in ("POST", "PUT", "PATCH") else None
    return await client.request(method, url, json=body, headers=headers or {})


def access_token(api: Api) -> str:
    return api.headers["Authorization"].removeprefix("Bearer ")


def integration_id(api: Api) -> uuid.UUID:
    """The integration a token names (read without checking the signature)."""
    claims = jwt.decode(access_token(api), options={"verify_signature": False})
    return uuid.UUID(claims["sub"])


def signing_key(settings: Settings) -> str:
    assert settings.secret_key is not None
    return settings.secret_key.get_secret_value()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def credentials(api: Api, **overrides: Any) -> dict[str, Any]:
    return {
        "grant_type": "client_credentials",
        "client_id": api.client_id,
        "client_secret": api.client_secret,
        **overrides,
    }


class TestTokenEndpoint:
    async def test_json_credentials_give_a_bearer_token(self, api: Api) -> None:
        response = await api.client.post("/api/oauth/token", json=credentials(api))

        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"token_type", "access_token", "expires_in"}
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 600
        assert isinstance(body["access_token"], str)
        assert body["access_token"]

    async def test_form_encoded_credentials_give_a_bearer_token(self, api: Api) -> None:
        response = await api.client.post("/api/oauth/token", data=credentials(api))

        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"token_type", "access_token", "expires_in"}
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 600
        assert body["access_token"]

    async def test_form_with_a_charset_is_accepted(self, api: Api) -> None:
        response = await api.client.post(
            "/api/oauth/token",
            content=urlencode(credentials(api)),
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"},
        )

        assert response.status_code == 200, response.text

    async def test_form_values_are_percent_decoded(
        self, app_client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
    ) -> None:
        secret = "a+b&c=d %25 é/?"
        async with session_factory() as session, session.begin():
            await create_integration(session, "odd", client_id="ci_odd+1", client_secret=secret)

        response = await app_client.post(
            "/api/oauth/token",
            data={"grant_type": "client_credentials", "client_id": "ci_odd+1", "client_secret": secret},
        )

        assert response.status_code == 200, response.text

    async def test_json_token_opens_the_protected_routes(self, api: Api) -> None:
        token = (await api.client.post("/api/oauth/token", json=credentials(api))).json()["access_token"]

        response = await api.client.get("/api/import", headers=bearer(token))

        assert response.status_code == 200, response.text

    async def test_form_token_opens_the_protected_routes(self, api: Api) -> None:
        token = (await api.client.post("/api/oauth/token", data=credentials(api))).json()["access_token"]

        response = await api.client.get("/api/catalog/products", headers=bearer(token))

        assert response.status_code == 200, response.text

    async def test_token_expires_after_the_advertised_lifetime(self, api: Api, settings: Settings) -> None:
        before = int(time.time())
        body = (await api.client.post("/api/oauth/token", json=credentials(api))).json()

        claims = jwt.decode(
            body["access_token"], signing_key(settings), algorithms=["HS256"], audience=AUDIENCE
        )

        assert before + body["expires_in"] <= claims["exp"] <= int(time.time()) + body["expires_in"]

    async def test_token_names_the_integration_it_was_issued_to(self, api: Api, other_api: Api) -> None:
        assert integration_id(api) != integration_id(other_api)

    async def test_wrong_secret_is_an_invalid_client(self, api: Api) -> None:
        response = await api.client.post(
            "/api/oauth/token", json=credentials(api, client_secret="not-the-secret")
        )

        assert_error(response, 401, "INVALID_CLIENT")

    async def test_wrong_secret_in_a_form_is_an_invalid_client(self, api: Api) -> None:
        response = await api.client.post(
            "/api/oauth/token", data=credentials(api, client_secret="not-the-secret")
        )

        assert_error(response, 401, "INVALID_CLIENT")

    async def test_unknown_client_is_an_invalid_client(self, api: Api) -> None:
        response = await api.client.post("/api/oauth/token", json=credentials(api, client_id="ci_nobody"))

        assert_error(response, 401, "INVALID_CLIENT")

    async def test_secret_of_another_integration_is_an_invalid_client(self, api: Api, other_api: Api) -> None:
        response = await api.client.post(
            "/api/oauth/token", json=credentials(api, client_secret=other_api.client_secret)
        )

        assert_error(response, 401, "INVALID_CLIENT")

    async def test_unknown_client_and_wrong_secret_answer_the_same(self, api: Api) -> None:
        unknown = await api.client.post("/api/oauth/token", json=credentials(api, client_id="ci_nobody"))
        wrong = await api.client.post("/api/oauth/token", json=credentials(api, client_secret="wrong"))

        assert unknown.json() == wrong.json()

    async def test_unsupported_grant_type_is_rejected(self, api: Api) -> None:
        response = await api.client.post(
            "/api/oauth/token", json=credentials(api, grant_type="authorization_code")
        )

        body = assert_error(response, 422, "INVALID_REQUEST")
        assert [detail["path"] for detail in body["details"]] == ["grant_type"]

    async def test_unsupported_grant_type_in_a_form_is_rejected(self, api: Api) -> None:
        response = await api.client.post("/api/oauth/token", data=credentials(api, grant_type="password"))

        body = assert_error(response, 422, "INVALID_REQUEST")
        assert [detail["path"] for detail in body["details"]] == ["grant_type"]

    @pytest.mark.parametrize("missing", ["grant_type", "client_id", "client_secret"])
    async def test_missing_field_is_rejected(self, api: Api, missing: str) -> None:
        body = credentials(api)
        del body[missing]

        response = await api.client.post("/api/oauth/token", json=body)

        error = assert_error(response, 422, "INVALID_REQUEST")
        assert [detail["path"] for detail in error["details"]] == [missing]

    async def test_missing_field_in_a_form_is_rejected(self, api: Api) -> None:
        response = await api.client.post(
            "/api/oauth/token", data={"grant_type": "client_credentials", "client_id": api.client_id}
        )

        error = assert_error(response, 422, "INVALID_REQUEST")
        assert [detail["path"] for detail in error["details"]] == ["client_secret"]

    async def test_empty_object_lists_every_missing_field(self, app_client: httpx.AsyncClient) -> None:
        response = await app_client.post("/api/oauth/token", json={})

        error = assert_error(response, 422, "INVALID_REQUEST")
        assert sorted(detail["path"] for detail in error["details"]) == [
            "client_id",
            "client_secret",
            "grant_type",
        ]

    @pytest.mark.parametrize("field", ["client_secret", "client_id"])
    async def test_an_empty_credential_is_an_invalid_client(self, api: Api, field: str) -> None:
        json_body = await api.client.post("/api/oauth/token", json=credentials(api, **{field: ""}))
        form_body = await api.client.post("/api/oauth/token", data=credentials(api, **{field: ""}))

        assert_error(json_body, 401, "INVALID_CLIENT")
        assert_error(form_body, 401, "INVALID_CLIENT")

    async def test_body_that_is_not_json_is_rejected(self, app_client: httpx.AsyncClient) -> None:
        response = await app_client.post(
            "/api/oauth/token", content=b"{not json", headers={"Content-Type": "application/json"}
        )

        assert_error(response, 422, "INVALID_REQUEST")

    async def test_empty_body_is_rejected(self, app_client: httpx.AsyncClient) -> None:
        response = await app_client.post("/api/oauth/token")

        assert_error(response, 422, "INVALID_REQUEST")

    async def test_json_array_is_rejected(self, api: Api) -> None:
        response = await api.client.post("/api/oauth/token", json=[credentials(api)])

        assert_error(response, 422, "INVALID_REQUEST")

    async def test_get_is_not_allowed(self, app_client: httpx.AsyncClient) -> None:
        response = await app_client.get("/api/oauth/token")

        assert_error(response, 405, "METHOD_NOT_ALLOWED")


class TestWrongSecretsAreSlowedDown:
    """Wrong secrets are counted per client id and caller address (here 3 a minute): once over, every
    attempt of that client from that address gets 429, the right secret too, so a secret cannot be found
    by trying; other clients, and the same client from elsewhere, go on as before."""

    @pytest.fixture
    async def clients(self, settings: Settings) -> AsyncIterator[Callable[[str], httpx.AsyncClient]]:
        app = create_app(settings.model_copy(update={"sign_in_failure_limit": "3/minute"}))
        async with app.router.lifespan_context(app), contextlib.AsyncExitStack() as stack:

            def from_address(address: str) -> httpx.AsyncClient:
                transport = httpx.ASGITransport(app=app, client=(address, 50000))
                client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
                return stack.push_async_callback(client.aclose) and client

            yield from_address

    async def test_attempts_over_the_limit_get_429_until_the_window_has_passed(
        self, api: Api, other_api: Api, clients: Callable[[str], httpx.AsyncClient]
    ) -> None:
        client = clients("127.0.0.9")
        wrong = [
            await client.post("/api/oauth/token", json=credentials(api, client_secret=f"guess-{n}"))
            for n in range(3)
        ]
        right = await client.post("/api/oauth/token", json=credentials(api))
        other_client = await client.post("/api/oauth/token", json=credentials(other_api))
        elsewhere = await clients("127.0.0.10").post("/api/oauth/token", json=credentials(api))

        for response in wrong:
            assert_error(response, 401, "INVALID_CLIENT")
        error = assert_error(right, 429, "RATE_LIMITED")
        assert "wrong secrets" in error["message"]
        assert 1 <= int(right.headers["Retry-After"]) <= 60
        assert other_client.status_code == 200, other_client.text
        assert elsewhere.status_code == 200, elsewhere.text

    async def test_right_secrets_are_not_counted(
        self, api: Api, clients: Callable[[str], httpx.AsyncClient]
    ) -> None:
        client = clients("127.0.0.11")
        answers = [await client.post("/api/oauth/token", json=credentials(api)) for _ in range(6)]

        assert [answer.status_code for answer in answers] == [200] * 6


class TestProtectedRoutes:
    def test_every_route_of_the_contract_is_checked(self) -> None:
        expected = {
            ("POST", "/api/import/catalog/start"),
            ("POST", "/api/import/{import_id}/record"),
            ("POST", "/api/import/{import_id}/record/delete"),
            ("POST", "/api/import/{import_id}/record/unassign"),
            ("POST", "/api/import/{import_id}/commit"),
            ("GET", "/api/import/{import_id}/status"),
            ("POST", "/api/import/{import_id}/status"),
            ("POST", "/api/import/{import_id}/cancel"),
            ("GET", "/api/import"),
            ("GET", "/api/import/{import_id}/failures"),
            ("GET", "/api/catalog/products"),
            ("GET", "/api/catalog/products/{product_id}"),
            ("GET", "/api/catalog/categories"),
            ("GET", "/api/catalog/categories/{category_id}"),
            ("GET", "/api/catalog/media"),
            ("GET", "/api/catalog/media/{media_id}"),
            ("GET", "/api/catalog/taxes"),
        }

        assert expected <= set(PROTECTED_ROUTES)

    @pytest.mark.parametrize(("method", "path"), PROTECTED_ROUTES, ids=ROUTE_IDS)
    async def test_missing_token_is_unauthorized(
        self, app_client: httpx.AsyncClient, method: str, path: str
    ) -> None:
        response = await call(app_client, method, path)

        assert_error(response, 401, "UNAUTHORIZED")
        assert response.headers["www-authenticate"].startswith("Bearer")

    @pytest.mark.parametrize(
        ("method", "path"),
        [route for route in PROTECTED_ROUTES if route[0] == "POST"],
        ids=[route_id for route_id in ROUTE_IDS if route_id.startswith("POST")],
    )
    async def test_missing_token_is_unauthorized_before_the_body_is_read(
        self, app_client: httpx.AsyncClient, method: str, path: str
    ) -> None:
        url = re.sub(r"\{[^}]+\}", uuid.uuid4().hex, path)

        response = await app_client.post(
            url, content=b"{not json", headers={"Content-Type": "application/json"}
        )

        assert_error(response, 401, "UNAUTHORIZED")

    async def test_body_errors_are_answered_once_the_token_is_valid(self, api: Api) -> None:
        response = await api.client.post(
            "/api/import/catalog/start",
            content=b"{not json",
            headers={**api.headers, "Content-Type": "application/json"},
        )

        assert_error(response, 422, "INVALID_IMPORT")

    async def test_query_errors_are_answered_once_the_token_is_valid(self, api: Api) -> None:
        response = await api.get("/api/catalog/products", params={"limit": 0})

        assert_error(response, 422, "INVALID_REQUEST")

    @pytest.mark.parametrize(("method", "path"), PROTECTED_ROUTES, ids=ROUTE_IDS)
    async def test_malformed_token_is_unauthorized(
        self, app_client: httpx.AsyncClient, method: str, path: str
    ) -> None:
        response = await call(app_client, method, path, {"Authorization": "Bearer not-a-token"})

        assert_error(response, 401, "UNAUTHORIZED")

    @pytest.mark.parametrize(("method", "path"), PROTECTED_ROUTES, ids=ROUTE_IDS)
    async def test_token_signed_with_another_key_is_unauthorized(
        self, api: Api, method: str, path: str
    ) -> None:
        token = TokenSigner("another-signing-key-" + "y" * 32, 600).issue(integration_id(api))

        response = await call(api.client, method, path, bearer(token))

        assert_error(response, 401, "UNAUTHORIZED")

    @pytest.mark.parametrize(("method", "path"), PROTECTED_ROUTES, ids=ROUTE_IDS)
    async def test_expired_token_is_unauthorized(
        self, api: Api, settings: Settings, method: str, path: str
    ) -> None:
        token = TokenSigner(signing_key(settings), -60).issue(integration_id(api))

        response = await call(api.client, method, path, bearer(token))

        assert_error(response, 401, "UNAUTHORIZED")


class TestAuthorizationHeader:
    @pytest.mark.parametrize(
        "header",
        [
            "Bearer",
            "Bearer ",
            "Basic dXNlcjpwYXNz",
            "Token {token}",
            "{token}",
            "Bearer {token}x",
            "Bearer {token} {token}",
        ],
        ids=[
            "scheme-without-token",
            "scheme-and-blank",
            "basic-auth",
            "other-scheme",
            "no-scheme",
            "altered-token",
            "two-tokens",
        ],
    )
    async def test_malformed_header_is_unauthorized(self, api: Api, header: str) -> None:
        response = await api.client.get(
            "/api/import", headers={"Authorization": header.format(token=access_token(api))}
        )

        assert_error(response, 401, "UNAUTHORIZED")

    async def test_scheme_is_case_insensitive(self, api: Api) -> None:
        response = await api.client.get(
            "/api/import", headers={"Authorization": f"bearer {access_token(api)}"}
        )

        assert response.status_code == 200, response.text

    async def test_token_expired_at_this_second_is_unauthorized(self, api: Api, settings: Settings) -> None:
        token = TokenSigner(signing_key(settings), 0).issue(integration_id(api))

        response = await api.client.get("/api/import", headers=bearer(token))

        assert_error(response, 401, "UNAUTHORIZED")


class TestTokenClaims:
    """Tokens crafted with the server's key: only a complete, unexpired one for this audience passes."""

    def claims(self, api: Api, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {"sub": integration_id(api).hex, "aud": AUDIENCE, "iat": now, "exp": now + 300}
        claims.update(overrides)
        return {key: value for key, value in claims.items() if value is not None}

    async def test_well_formed_claims_are_accepted(self, api: Api, settings: Settings) -> None:
        token = jwt.encode(self.claims(api), signing_key(settings), algorithm="HS256")

        response = await api.client.get("/api/import", headers=bearer(token))

        assert response.status_code == 200, response.text

    @pytest.mark.parametrize(
        "overrides",
        [
            {"exp": int(time.time()) - 3600},
            {"exp": None},
            {"sub": None},
            {"sub": "not-a-uuid"},
            {"aud": "another-service"},
            {"aud": None},
            {"nbf": int(time.time()) + 3600},
        ],
        ids=[
            "expired",
            "no-exp",
            "no-sub",
            "sub-not-an-id",
            "other-audience",
            "no-audience",
            "not-yet-valid",
        ],
    )
    async def test_bad_claims_are_unauthorized(
        self, api: Api, settings: Settings, overrides: dict[str, Any]
    ) -> None:
        token = jwt.encode(self.claims(api, **overrides), signing_key(settings), algorithm="HS256")

        response = await api.client.get("/api/import", headers=bearer(token))

        assert_error(response, 401, "UNAUTHORIZED")

    async def test_unsigned_token_is_unauthorized(self, api: Api) -> None:
        token = jwt.encode(self.claims(api), key=None, algorithm="none")

        response = await api.client.get("/api/import", headers=bearer(token))

        assert_error(response, 401, "UNAUTHORIZED")

    async def test_token_signed_with_another_algorithm_is_unauthorized(
        self, api: Api, settings: Settings
    ) -> None:
        token = jwt.encode(self.claims(api), signing_key(settings), algorithm="HS384")

        response = await api.client.get("/api/import", headers=bearer(token))

        assert_error(response, 401, "UNAUTHORIZED")


IMPORT_CALLS = [
    ("POST", "record", {"products": [product("INTRUDER-1")]}),
    ("POST", "record/delete", {"products": [{"productNumber": "INTRUDER-1"}]}),
    ("POST", "record/unassign", {"products": [{"productNumber": "INTRUDER-1", "categories": []}]}),
    ("POST", "commit", None),
    ("GET", "status", None),
    ("POST", "status", None),
    ("POST", "cancel", None),
    ("GET", "failures", None),
]
IMPORT_CALL_IDS = [f"{method} {suffix}" for method, suffix, _ in IMPORT_CALLS]


class TestTenancy:
    """A valid token of one integration never reaches another integration's imports."""

    async def test_owner_sees_its_import(self, api: Api) -> None:
        import_id = await api.start()

        response = await api.get(f"/api/import/{import_id}/status")

        assert response.status_code == 200, response.text
        assert response.json()["id"] == import_id

    @pytest.mark.parametrize(("method", "suffix", "body"), IMPORT_CALLS, ids=IMPORT_CALL_IDS)
    async def test_other_integration_gets_import_not_found(
        self, api: Api, other_api: Api, method: str, suffix: str, body: Any
    ) -> None:
        import_id = await api.start()

        response = await other_api.client.request(
            method, f"/api/import/{import_id}/{suffix}", json=body, headers=other_api.headers
        )

        assert_error(response, 404, "IMPORT_NOT_FOUND")

    @pytest.mark.parametrize(("method", "suffix", "body"), IMPORT_CALLS, ids=IMPORT_CALL_IDS)
    async def test_other_integration_gets_import_not_found_for_a_dashed_id(
        self, api: Api, other_api: Api, method: str, suffix: str, body: Any
    ) -> None:
        import_id = str(uuid.UUID(await api.start()))

        response = await other_api.client.request(
            method, f"/api/import/{import_id}/{suffix}", json=body, headers=other_api.headers
        )

        assert_error(response, 404, "IMPORT_NOT_FOUND")

    @pytest.mark.parametrize("suffix", ["commit", "cancel", "record"])
    async def test_committed_import_of_another_integration_is_not_found_rather_than_conflicting(
        self, api: Api, other_api: Api, suffix: str
    ) -> None:
        import_id = await api.start()
        await api.commit(import_id)

        response = await other_api.post(f"/api/import/{import_id}/{suffix}", json={"products": []})

        assert_error(response, 404, "IMPORT_NOT_FOUND")

    async def test_other_integration_cannot_push_into_an_import(self, api: Api, other_api: Api) -> None:
        import_id = await api.start()

        await other_api.post(f"/api/import/{import_id}/record", json={"products": [product("INTRUDER-1")]})

        status = await api.status(import_id)
        assert status["progress"]["total"] == 0
        final = await api.commit_and_run(import_id)
        assert final["totals"]["total"] == 0
        listed = await api.get("/api/catalog/products", params={"productNumber": "INTRUDER-1"})
        assert listed.json()["items"] == []

    async def test_other_integration_cannot_cancel_an_import(self, api: Api, other_api: Api) -> None:
        import_id = await api.start()

        await other_api.post(f"/api/import/{import_id}/cancel")

        assert (await api.status(import_id))["status"] == "started"

    async def test_other_integration_cannot_commit_an_import(self, api: Api, other_api: Api) -> None:
        import_id = await api.start()

        await other_api.post(f"/api/import/{import_id}/commit")

        assert (await api.status(import_id))["status"] == "started"
        await api.commit(import_id)

    async def test_lists_show_only_own_imports(self, api: Api, other_api: Api) -> None:
        own = await api.start("own")
        foreign = await other_api.start("foreign")

        mine = (await api.get("/api/import")).json()
        theirs = (await other_api.get("/api/import")).json()

        assert [item["id"] for item in mine["items"]] == [own]
        assert [item["id"] for item in theirs["items"]] == [foreign]

    async def test_status_filtered_list_shows_only_own_imports(self, api: Api, other_api: Api) -> None:
        await api.start("own")

        response = await other_api.get("/api/import", params={"status": "started"})

        assert response.status_code == 200, response.text
        assert response.json() == {"items": [], "nextCursor": None}

    async def test_same_idempotency_key_of_two_integrations_gives_two_imports(
        self, api: Api, other_api: Api
    ) -> None:
        key = {"Idempotency-Key": "nightly-2026-07-12"}
        own = await api.post("/api/import/catalog/start", json={"name": "own"}, headers=key)
        foreign = await other_api.post("/api/import/catalog/start", json={"name": "foreign"}, headers=key)

        assert own.status_code == foreign.status_code == 200
        assert own.json()["id"] != foreign.json()["id"]
        assert foreign.json()["name"] == "foreign"
