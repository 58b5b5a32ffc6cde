"""The Python client against a real server on a loopback port (API and worker in one process): a whole
import through the session API, asynchronous and not; plus its retry and token handling against a
scripted transport."""

from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from catalog_import.client import (
    AsyncCatalogImportClient,
    CatalogImportClient,
    CatalogImportError,
    Price,
    ProductRecord,
    PushResult,
    RecordOrigin,
    Status,
    TaxRef,
    Validation,
)
from tests.factories import product
from tests.live import CLIENT_ID, CLIENT_SECRET, live_get


async def test_async_session_imports_typed_records_and_reports(live_server: str) -> None:
    typed = ProductRecord(
        productNumber="CLIENT-A",
        name="Typed",
        tax=TaxRef(name="Standard rate", taxRate=Decimal(19)),
        prices=[Price(currency="EUR", gross=Decimal("11.90"), net=Decimal(10), linked=True)],
        stock="7",  # type: ignore[arg-type]  # a numeric string, as the server takes it too
    )
    async with AsyncCatalogImportClient(live_server, CLIENT_ID, CLIENT_SECRET) as client:
        session = await client.start_session("async client")
        pushed = await session.add_records(products=[typed, product("CLIENT-B")])
        await session.commit()
        status = await session.done(poll_seconds=0.1, timeout_seconds=60)

        assert isinstance(pushed, PushResult) and isinstance(status, Status)
        assert not pushed.contains_errors
        assert [(record.path, record.action) for record in pushed.records] == [
            ("products.0", "create"),
            ("products.1", "create"),
        ]
        assert (status.status, status.totals.product, status.failures) == ("done", 2, [])
        written = live_get(live_server, "/api/catalog/products", productNumber="CLIENT-A").json()["items"]
        assert [(p["name"], p["stock"], p["prices"][0]["gross"]) for p in written] == [("Typed", 7, 11.9)]
        with pytest.raises(CatalogImportError) as refused:
            await session.add_records(products=[product("CLIENT-C")])
        assert (refused.value.status_code, refused.value.code) == (409, "IMPORT_ALREADY_COMMITTED")


def test_sync_session_imports_and_reports(live_server: str) -> None:
    with CatalogImportClient(live_server, CLIENT_ID, CLIENT_SECRET) as client:
        session = client.start_session("sync client")
        session.add_records(products=[product("CLIENT-SYNC")])
        session.commit()
        with pytest.raises(CatalogImportError) as again:
            session.commit()
        status = session.done(poll_seconds=0.1, timeout_seconds=60)

    assert (again.value.status_code, again.value.code) == (409, "IMPORT_ALREADY_COMMITTED")
    assert (status.status, status.totals.product) == ("done", 1)


async def test_a_failed_record_is_retried_with_a_correction(live_server: str) -> None:
    pushed = product("CLIENT-RETRY", categories=[{"path": ["Client retry"]}])
    async with AsyncCatalogImportClient(live_server, CLIENT_ID, CLIENT_SECRET) as client:
        session = await client.start_session("client retry", deferReferences=True)
        await session.add_records(products=[pushed])
        await session.commit()
        first = await session.done(poll_seconds=0.1, timeout_seconds=60)
        [failure] = await session.failures(include_records=True)

        retried, result = await session.retry()
        await retried.add_records(categories=[{"name": "Client retry"}])
        await retried.commit()
        second = await retried.done(poll_seconds=0.1, timeout_seconds=60)
        retried_by = (await session.status()).retried_by

    assert first.totals.failures == 1
    assert failure.record == pushed
    assert [(record.path, record.origin) for record in result.records] == [
        ("products.0", RecordOrigin(batch=1, path="products.0"))
    ]
    assert (second.retry_of, second.failures, second.totals.product) == (first.id, [], 1)
    assert retried_by == [second.id]


def test_sync_retry_names_the_new_import(live_server: str) -> None:
    with CatalogImportClient(live_server, CLIENT_ID, CLIENT_SECRET) as client:
        session = client.start_session("sync retry", deferReferences=True)
        session.add_records(products=[product("CLIENT-SYNC-RETRY", categories=[{"path": ["Never"]}])])
        session.commit()
        first = session.done(poll_seconds=0.1, timeout_seconds=60)
        retried, result = session.retry(name="second go")
        status = retried.status()
        with pytest.raises(CatalogImportError) as refused:
            retried.retry()

    assert (status.name, status.status, status.retry_of) == ("second go", "started", first.id)
    assert [record.origin for record in result.records] == [RecordOrigin(batch=1, path="products.0")]
    assert (refused.value.status_code, refused.value.code) == (409, "IMPORT_NOT_DONE")


async def test_a_validation_reports_what_the_commit_would_do_and_writes_nothing(live_server: str) -> None:
    async with AsyncCatalogImportClient(live_server, CLIENT_ID, CLIENT_SECRET) as client:
        session = await client.start_session("client validation", deferReferences=True)
        await session.add_records(
            products=[product("CLIENT-VALID"), product("CLIENT-INVALID", categories=[{"path": ["Nowhere"]}])]
        )
        validation = await session.validate(poll_seconds=0.1, timeout_seconds=60)
        failures = await session.failures(of_validation=True, include_records=True)
        status = await session.status()

    assert isinstance(validation, Validation)
    assert (validation.status, validation.totals.product, validation.totals.failures) == ("done", 1, 1)
    [found_failure] = validation.failures
    assert (found_failure.path, found_failure.details[0].code) == ("products.1", "CATEGORY_NOT_FOUND")
    assert [f.record for f in failures] == [product("CLIENT-INVALID", categories=[{"path": ["Nowhere"]}])]
    assert (status.status, status.failures, status.validation) == ("started", [], validation)
    found = live_get(live_server, "/api/catalog/products", productNumber="CLIENT-VALID").json()["items"]
    assert found == []


def test_sync_validation_then_commit(live_server: str) -> None:
    with CatalogImportClient(live_server, CLIENT_ID, CLIENT_SECRET) as client:
        session = client.start_session("sync validation")
        session.add_records(products=[product("CLIENT-SYNC-VALID")])
        validation = session.validate(poll_seconds=0.1, timeout_seconds=60)
        session.commit()
        status = session.done(poll_seconds=0.1, timeout_seconds=60)

    assert (validation.totals.product, validation.failures) == (1, [])
    assert (status.totals.product, status.failures) == (1, [])


def test_wrong_secret_is_reported(live_server: str) -> None:
    with (
        CatalogImportClient(live_server, CLIENT_ID, "wrong") as client,
        pytest.raises(CatalogImportError) as refused,
    ):
        client.start_session("never")

    assert (refused.value.status_code, refused.value.code) == (401, "INVALID_CLIENT")


class ScriptedServer:
    """Answers from a script, recording what the client asked."""

    def __init__(self, answers: list[httpx.Response]) -> None:
        self.answers = answers
        self.seen: list[tuple[str, str | None]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/oauth/token":
            self.seen.append(("token", None))
            return httpx.Response(
                200, json={"token_type": "Bearer", "access_token": f"t{len(self.seen)}", "expires_in": 600}
            )
        self.seen.append((request.url.path, request.headers.get("Authorization")))
        return self.answers.pop(0)


def envelope(status: int, code: str, **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"code": code, "message": code.lower()}, headers=headers)


async def test_retries_429_and_503_honouring_retry_after() -> None:
    scripted = ScriptedServer(
        [
            envelope(429, "RATE_LIMITED", **{"Retry-After": "0"}),
            envelope(503, "SERVICE_UNAVAILABLE"),
            httpx.Response(200, json={"status": "started"}),
        ]
    )
    client = AsyncCatalogImportClient(
        "http://testserver", "id", "secret", backoff_seconds=0, transport=httpx.MockTransport(scripted)
    )

    answer: Any = await client.request("GET", "/api/import/x/status")

    await client.aclose()
    assert answer == {"status": "started"}
    assert scripted.seen == [("token", None)] + [("/api/import/x/status", "Bearer t1")] * 3


async def test_a_refused_token_is_renewed_once() -> None:
    scripted = ScriptedServer(
        [
            envelope(401, "UNAUTHORIZED"),
            httpx.Response(200, json={}),
            envelope(401, "UNAUTHORIZED"),
            envelope(401, "UNAUTHORIZED"),
        ]
    )
    client = AsyncCatalogImportClient(
        "http://testserver", "id", "secret", transport=httpx.MockTransport(scripted)
    )

    assert await client.request("GET", "/a") == {}
    with pytest.raises(CatalogImportError) as refused:
        await client.request("GET", "/b")

    await client.aclose()
    assert refused.value.code == "UNAUTHORIZED"
    assert [seen for seen in scripted.seen if seen[0] == "token"] == [("token", None)] * 3
    assert [path for path, _ in scripted.seen if path != "token"] == ["/a", "/a", "/b", "/b"]


async def test_retries_give_up_with_the_last_error() -> None:
    scripted = ScriptedServer([envelope(503, "SERVICE_UNAVAILABLE")] * 3)
    client = AsyncCatalogImportClient(
        "http://testserver",
        "id",
        "secret",
        retries=2,
        backoff_seconds=0,
        transport=httpx.MockTransport(scripted),
    )

    with pytest.raises(CatalogImportError) as refused:
        await client.request("GET", "/c")

    await client.aclose()
    assert (refused.value.status_code, refused.value.code) == (503, "SERVICE_UNAVAILABLE")


async def test_a_commit_whose_answer_was_lost_may_be_retried() -> None:
    class LostAnswer:
        """Accepts the first commit but drops the connection before answering; the import is then
        committed, and a second commit is refused."""

        def __init__(self) -> None:
            self.commits = 0

        def __call__(self, request: httpx.Request) -> httpx.Response:
            if request.url.path == "/api/oauth/token":
                return httpx.Response(
                    200, json={"token_type": "Bearer", "access_token": "t", "expires_in": 600}
                )
            self.commits += 1
            if self.commits == 1:
                raise httpx.RemoteProtocolError("connection dropped", request=request)
            return envelope(409, "IMPORT_ALREADY_COMMITTED")

    server = LostAnswer()
    client = AsyncCatalogImportClient(
        "http://testserver", "id", "secret", transport=httpx.MockTransport(server)
    )
    async with client:
        session = client.session("018a6b222b5a734d956fb03dda765bf8")
        with pytest.raises(httpx.RemoteProtocolError):
            await session.commit()
        await session.commit()  # the retry of the commit whose answer was lost
        with pytest.raises(CatalogImportError):
            await session.commit()  # a second commit

    assert server.commits == 3


def test_typed_records_type_check(tmp_path: Path) -> None:
    """The record models give a type checker the contract's names and types: a well-formed push passes
    mypy (with the pydantic plugin), a misspelt field and a wrong type do not."""
    from mypy import api

    good = tmp_path / "good.py"
    good.write_text(
        "from decimal import Decimal\n"
        "from catalog_import.client import CatalogImportClient, Price, ProductRecord, PushResult, TaxRef\n"
        "def push(client: CatalogImportClient) -> PushResult:\n"
        "    session = client.start_session('typed')\n"
        "    record = ProductRecord(productNumber='X1', name='X', tax=TaxRef(name='Standard rate'),\n"
        "                           prices=[Price(currency='EUR', gross=Decimal(1), net=Decimal(1))])\n"
        "    return session.add_records(products=[record, {'productNumber': 'X2'}])\n"
    )
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from catalog_import.client import ProductRecord\n"
        "ProductRecord(productNumbr='X1')\n"
        "ProductRecord(productNumber=1)\n"
    )
    options = ["--config-file", str(Path(__file__).parents[2] / "pyproject.toml"), "--no-incremental"]

    good_out, _, good_code = api.run([*options, str(good)])
    bad_out, _, bad_code = api.run([*options, str(bad)])

    assert good_code == 0, good_out
    assert bad_code == 1, bad_out
    assert 'Unexpected keyword argument "productNumbr"' in bad_out
    assert 'Argument "productNumber" to "ProductRecord" has incompatible type "int"' in bad_out
