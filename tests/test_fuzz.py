"""The API fuzzed from its own OpenAPI document (schemathesis, in process over ASGI). With a valid token, no
request is answered with a server error, every error carries the contract's envelope, and status codes,
content types and bodies are those the document declares.

- ``test_every_operation``: every operation with generated parameters; ids name nothing, so most of the
  operations on an import stop at 404.
- ``test_on_an_open_import``: the operations on an import, with the id of an open import, so that
  generated bodies and parameters are read (the coverage phase's boundary cases of push bodies included).
- ``test_on_what_an_import_wrote``: the operations that take an id in their path, with the ids of a done
  import (with a failure) and of the product, category and media it wrote.
- ``test_token_with_known_credentials``: the token endpoint, with the credentials of an integration.

The tests after those pin answers to inputs generated ones may or may not contain in a given run: NUL
characters, and bodies that are not UTF-8.

Runs are deterministic (``derandomize``) and small (``max_examples``). For a longer or a random run, set
``CATALOG_IMPORT_TEST_FUZZ_EXAMPLES`` (examples per operation in the fuzzing phase) and
``CATALOG_IMPORT_TEST_FUZZ_RANDOM=1``."""

import json
import os
import re
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis import Case, CheckContext, Response
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema

from catalog_import.app import create_app
from catalog_import.config import Settings
from tests.factories import Api, assert_error, product
from tests.media.servers import NOT_FOUND, LoopbackServer

FUZZ = settings(
    max_examples=int(os.environ.get("CATALOG_IMPORT_TEST_FUZZ_EXAMPLES", "15")),
    deadline=None,
    derandomize=not os.environ.get("CATALOG_IMPORT_TEST_FUZZ_RANDOM"),
    database=None,
    suppress_health_check=list(HealthCheck),
)

COMMON: dict[str, Any] = {
    # Every request carries a valid token (see ``call``), so no security parameters are generated.
    "generation": {"with-security-parameters": False},
    # Generous: a push at the documented limits (a category naming 10,000 products) takes seconds.
    "request-timeout": 30,
}
# The coverage phase (boundary and type-mutation cases of every schema, not bounded by ``max_examples``)
# runs for push bodies only where they are read: on an open import.
PUSH_BODIES_FUZZED_ONLY: dict[str, Any] = {
    **COMMON,
    "operations": [{"include-path-regex": "/record", "phases": {"coverage": {"enabled": False}}}],
}


def load_schema(config: dict[str, Any]) -> OpenApiSchema:
    """The document the app serves. The app that answers is the test run's (``fuzz_app``), passed to each
    call: the document does not depend on the settings, the app does."""
    document = create_app(Settings(database_url=None, redis_url=None)).openapi()
    return schemathesis.openapi.from_dict(document, config=schemathesis.Config.from_dict(config))


def only(loaded: OpenApiSchema, path_pattern: str) -> OpenApiSchema:
    """The operations of ``loaded`` whose path matches. An exclusion rather than an inclusion: with
    per-operation settings in its config, a schema already includes every operation, and an inclusion
    would only add to that."""
    return loaded.exclude(lambda ctx: not re.search(path_pattern, ctx.operation.path))


schema = load_schema(PUSH_BODIES_FUZZED_ONLY)
full_schema = load_schema(COMMON)


@schemathesis.check
def error_envelope(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Every 4xx and 5xx answer is JSON ``{"code": str, "message": str, "details"?: list}``."""
    if response.status_code < 400 or case.method.upper() == "HEAD":
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    assert content_type.startswith("application/json"), f"the error is answered as {content_type!r}"
    body = response.json()
    assert isinstance(body, dict), f"the error body is not an object: {body!r}"
    assert isinstance(body.get("code"), str), f"the error body has no string code: {body!r}"
    assert isinstance(body.get("message"), str), f"the error body has no string message: {body!r}"
    assert isinstance(body.get("details", []), list), f"the error's details are not a list: {body!r}"
    extra = set(body) - {"code", "message", "details"}
    assert not extra, f"the error body has fields besides code, message and details: {sorted(extra)}"
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    error_envelope,
]


@pytest.fixture(scope="module")
def fuzz_app(settings: Settings) -> Iterator[FastAPI]:
    """The app schemathesis calls. Schemathesis runs its lifespan (database engine, queue) on an event loop
    of its own, so it is an app of its own rather than the one behind ``app_client``; its lifespan ends
    with this module. Without rate limits: one integration sends hundreds of requests a second, and
    hundreds of wrong secrets."""
    yield create_app(settings.model_copy(update={"rate_limit": "off", "sign_in_failure_limit": "off"}))
    asgi.shutdown_lifespans()


def call(case: Case, app: FastAPI, api: Api, path_parameters: Mapping[str, str] | None = None) -> None:
    """Send ``case`` with ``api``'s token (but to the token endpoint), its path parameters replaced by those
    of ``path_parameters`` with the same name, and run every check on the answer."""
    for name in case.path_parameters or {}:
        if path_parameters and name in path_parameters:
            case.path_parameters[name] = path_parameters[name]
    headers = None if case.operation.path == "/api/oauth/token" else api.headers
    case.call_and_validate(headers=headers, checks=CHECKS, app=app)


@schema.parametrize()
@FUZZ
def test_every_operation(case: Case, fuzz_app: FastAPI, api: Api) -> None:
    call(case, fuzz_app, api)


@pytest.fixture
async def open_import(api: Api) -> dict[str, str]:
    """An import that takes pushes, with a tax and a product staged."""
    import_id = await api.start("fuzz-open")
    pushed = await api.push(
        import_id, {"taxes": [{"name": "Reduced", "taxRate": 7}], "products": [product("F-1")]}
    )
    assert not pushed["containsErrors"], pushed
    return {"import_id": import_id}


# The event stream of an open import lasts until the import ends: it is fuzzed on the done one.
@only(full_schema, r"\{import_id\}(?!/events)").parametrize()
@FUZZ
def test_on_an_open_import(case: Case, fuzz_app: FastAPI, api: Api, open_import: dict[str, str]) -> None:
    call(case, fuzz_app, api, open_import)


@pytest.fixture
async def written(api: Api) -> dict[str, str]:
    """A done import that wrote a product with a category and a media, and failed another product (its
    media could not be downloaded): the ids of the import and of what it wrote."""
    with LoopbackServer() as server:
        import_id = await api.start("fuzz-done")
        pushed = await api.push(
            import_id,
            {
                "categories": [{"name": "Home"}, {"name": "Shoes", "parent": ["Home"]}],
                "products": [
                    product(
                        "F-2",
                        categories=[{"path": ["Home", "Shoes"]}],
                        media=[{"url": server.image("/front.png"), "filename": "front.png"}],
                    ),
                    product("F-3", media=[{"url": server.serve("/missing.png", NOT_FOUND)}]),
                ],
            },
        )
        assert not pushed["containsErrors"], pushed
        status = await api.commit_and_run(import_id)
    assert status["status"] == "done", status
    assert status["totals"]["failures"] == 1, status
    written = await api.product("F-2")
    return {
        "import_id": import_id,
        "product_id": written["id"],
        "category_id": written["categories"][0]["id"],
        "media_id": written["media"][0]["id"],
        "filename": written["media"][0]["filename"],
    }


@only(schema, r"\{(import|product|category|media)_id\}").parametrize()
@FUZZ
def test_on_what_an_import_wrote(case: Case, fuzz_app: FastAPI, api: Api, written: dict[str, str]) -> None:
    call(case, fuzz_app, api, written)


@only(full_schema, r"^/api/oauth/token$").parametrize()
@FUZZ
def test_token_with_known_credentials(case: Case, fuzz_app: FastAPI, api: Api) -> None:
    if isinstance(case.body, dict):
        for name, value in (("client_id", api.client_id), ("client_secret", api.client_secret)):
            if name in case.body:
                case.body[name] = value
    call(case, fuzz_app, api)


class TestInputsTheDatabaseCannotHold:
    """NUL (U+0000) cannot be stored in PostgreSQL text or jsonb: where a request carries one, it is the
    request's error, never the server's."""

    async def test_token_request_is_an_unknown_client(self, api: Api) -> None:
        response = await api.client.post(
            "/api/oauth/token",
            json={"grant_type": "client_credentials", "client_id": "ci_\x00", "client_secret": "x"},
        )

        assert_error(response, 401, "INVALID_CLIENT")

    async def test_import_name_and_idempotency_key_are_invalid(self, api: Api) -> None:
        start = "/api/import/catalog/start"

        assert_error(await api.post(start, json={"name": "a\x00b"}), 422, "INVALID_IMPORT")
        response = await api.post(start, json={"name": "ab"}, headers={"Idempotency-Key": "a\x00b"})
        assert_error(response, 422, "INVALID_IMPORT")

    @pytest.mark.parametrize(
        ("path", "params"),
        [
            ("/api/catalog/products", {"productNumber": "P\x00"}),
            ("/api/catalog/categories", {"path": ["Home", "\x00"]}),
            ("/api/catalog/media", {"url": "http://example.com/\x00"}),
        ],
    )
    async def test_catalog_lookups_are_invalid(self, api: Api, path: str, params: dict[str, Any]) -> None:
        assert_error(await api.get(path, params=params), 422, "INVALID_REQUEST")

    async def test_pushed_records_are_rejected_one_by_one(self, api: Api) -> None:
        import_id = await api.start()

        result = await api.push(
            import_id,
            {
                "products": [
                    product("N-1", description="a\x00"),
                    product("N-2", name="N\x00 2"),
                    product("N-3", customFields={"nested": [{"key\x00": 1}]}),
                    product("N-4"),
                ],
                "media": [
                    {"url": "http://example.com/\x00.png"},
                    {"url": "http://example.com/a.png", "alt": "\x00"},
                ],
            },
        )

        problems = {
            record["path"]: [(error["code"], error["path"]) for error in record["errors"]]
            for record in result["records"]
        }
        assert problems == {
            "products.0": [("INVALID_FIELD", "products.0.description")],
            "products.1": [("INVALID_FIELD", "products.1.name")],
            "products.2": [("INVALID_FIELD", "products.2.customFields")],
            "products.3": [],
            "media.0": [("INVALID_FIELD", "media.0.url")],
            "media.1": [("INVALID_FIELD", "media.1.alt")],
        }
        unassigned = await api.push(
            import_id, {"products": [{"productNumber": "N-4", "media": [{"filename": "\x00"}]}]}, "unassign"
        )
        assert unassigned["records"][0]["errors"][0]["path"] == "products.0.media.0.filename"


async def test_start_body_that_is_not_utf8_is_invalid(api: Api) -> None:
    for headers, status, code in ((api.headers, 422, "INVALID_IMPORT"), ({}, 401, "UNAUTHORIZED")):
        response = await api.client.post(
            "/api/import/catalog/start",
            content=b'{"name": "\xff\xfe"}',
            headers={**headers, "Content-Type": "application/json"},
        )

        assert_error(response, status, code)


def test_push_bodies_are_documented_without_references_outside_them() -> None:
    document = create_app(Settings(database_url=None, redis_url=None)).openapi()
    for suffix in ("record", "record/delete", "record/unassign"):
        operation = document["paths"][f"/api/import/{{import_id}}/{suffix}"]["post"]
        body_schema = operation["requestBody"]["content"]["application/json"]["schema"]

        assert "$defs" not in json.dumps(body_schema), suffix
