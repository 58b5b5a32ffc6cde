"""A Python client of the import API with the shape of an import session: ``start_session(name)``, then
``add_records(...)`` as often as needed, ``commit()``, and ``done()`` to wait for the result (or
``status()`` to look). It signs in with the integration's client id and secret, renews the token before it
expires (and once more if the server refuses it), and retries with backoff when the server answers 429 or
503, honouring ``Retry-After``; pushes are safe to retry (a record pushed again replaces the staged one).

    async with AsyncCatalogImportClient("http://127.0.0.1:8000", client_id, client_secret) as client:
        session = await client.start_session("nightly")
        await session.add_records(products=[...])
        await session.commit()
        status = await session.done()

Records are the server's own models (``ProductRecord``, ``TaxRef``, ``Price``…, the schemas of the OpenAPI
document), built with the contract's camelCase names and checked as they are built; plain dicts in the
same shape work too. Push results and statuses come back as typed models (``PushResult``, ``Status``).

    session.add_records(products=[ProductRecord(productNumber="X1", name="X", tax=TaxRef(name="Standard"),
                                                prices=[Price(currency="EUR", gross=119, net=100)])])

``CatalogImportClient`` offers the same calls without ``await`` (it runs them on an event loop of its
own, so it is meant for code that is not itself asynchronous)."""

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from pydantic import BaseModel

from catalog_import.imports.records import (
    CategoryKey,
    CategoryRecord,
    CategoryRef,
    CurrencyIdRef,
    CustomRecord,
    FolderRef,
    IdRef,
    MediaKey,
    MediaRecord,
    MediaRef,
    MediaUnassignRef,
    OptionRef,
    Price,
    ProductKey,
    ProductRecord,
    ProductRef,
    ProductUnassign,
    TaxKey,
    TaxRecord,
    TaxRef,
    VariantOption,
    VariantOverride,
)
from catalog_import.imports.schemas import (
    Failure,
    FailureDetail,
    Problem,
    PushResult,
    RecordOrigin,
    RecordResult,
    RetryResult,
    Status,
    Validation,
)

T = TypeVar("T")

RETRIED_STATUSES = {429, 503}


def as_json(value: Any) -> Any:
    """Records as the API takes them: models by their camelCase names, only the fields that were set."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if isinstance(value, Mapping):
        return {key: as_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [as_json(item) for item in value]
    return value


def collections_body(**collections: Any) -> dict[str, Any]:
    """A push body of the collections given (those left as None are left out)."""
    return {name: as_json(records) for name, records in collections.items() if records is not None}


class CatalogImportError(Exception):
    """An error answer of the server: its HTTP status and the envelope's code, message and details."""

    def __init__(self, status_code: int, code: str, message: str, details: list[Any] | None = None) -> None:
        super().__init__(f"{status_code} {code}: {message}")
        self.status_code = status_code
        self.code = code
        self.message = message
        self.details = details or []

    @classmethod
    def from_response(cls, response: httpx.Response) -> "CatalogImportError":
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        return cls(
            response.status_code,
            str(body.get("code", "HTTP_ERROR")),
            str(body.get("message", response.reason_phrase)),
            body.get("details"),
        )


class AsyncCatalogImportClient:
    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        retries: int = 5,
        backoff_seconds: float = 0.5,
        timeout_seconds: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout_seconds, transport=transport)
        self._client_id = client_id
        self._client_secret = client_secret
        self._retries = retries
        self._backoff_seconds = backoff_seconds
        self._token: str | None = None
        self._token_renew_at = 0.0

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- the session API --------------------------------------------------------------------------------
    async def start_session(self, name: str, **config: Any) -> "AsyncImportSession":
        """Start an import (``config``: ``deferReferences``, ``webhooks``, ``idempotency_key``…)."""
        idempotency_key = config.pop("idempotency_key", None)
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        started = await self.request(
            "POST", "/api/import/catalog/start", json={"name": name, **config}, headers=headers
        )
        return AsyncImportSession(self, started["id"])

    def session(self, import_id: str) -> "AsyncImportSession":
        """An import started before, by its id."""
        return AsyncImportSession(self, import_id)

    # -- requests ---------------------------------------------------------------------------------------
    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """Send a request with a valid token, retrying on 429/503; the decoded body (None for 204)."""
        renewed = False
        for attempt in range(self._retries + 1):
            token = await self._valid_token()
            response = await self._http.request(
                method,
                path,
                json=json,
                params=params,
                headers={**(headers or {}), "Authorization": f"Bearer {token}"},
            )
            if response.status_code == 401 and not renewed:
                # Refused (a server restarted with a new key, a clock apart): sign in once more.
                self._token, renewed = None, True
                continue
            if response.status_code in RETRIED_STATUSES and attempt < self._retries:
                await asyncio.sleep(self._wait(response, attempt))
                continue
            if response.is_error:
                raise CatalogImportError.from_response(response)
            return None if response.status_code == 204 else response.json()
        raise CatalogImportError.from_response(response)

    def _wait(self, response: httpx.Response, attempt: int) -> float:
        retry_after = response.headers.get("Retry-After", "")
        if retry_after.isdigit():
            return float(retry_after)
        return float(self._backoff_seconds * 2**attempt)

    async def _valid_token(self) -> str:
        if self._token is not None and time.monotonic() < self._token_renew_at:
            return self._token
        response = await self._http.post(
            "/api/oauth/token",
            json={
                "grant_type": "client_credentials",
                "client_id": self._client_id,
                "client_secret": self._client_secret,
            },
        )
        if response.is_error:
            raise CatalogImportError.from_response(response)
        body = response.json()
        self._token = str(body["access_token"])
        # Renewed a little before it expires, so that a request never carries one about to lapse.
        self._token_renew_at = time.monotonic() + max(1.0, float(body["expires_in"]) * 0.9)
        return self._token


class AsyncImportSession:
    """One import: push records, commit, and follow it until it is done."""

    def __init__(self, client: AsyncCatalogImportClient, import_id: str) -> None:
        self.client = client
        self.id = import_id
        # Set while a commit was sent and no answer came back (a dropped connection): the commit may have
        # been accepted, so calling commit again is a retry, not a second commit.
        self._commit_unanswered = False

    async def add_records(
        self,
        *,
        taxes: Sequence[TaxRecord | Mapping[str, Any]] | None = None,
        categories: Sequence[CategoryRecord | Mapping[str, Any]] | None = None,
        media: Sequence[MediaRecord | Mapping[str, Any]] | None = None,
        products: Sequence[ProductRecord | Mapping[str, Any]] | None = None,
        extensions: Mapping[str, Sequence[CustomRecord | Mapping[str, Any]]] | None = None,
    ) -> PushResult:
        """Push records: each is staged, or answered with its problems, in the ``PushResult``."""
        body = collections_body(
            taxes=taxes, categories=categories, media=media, products=products, extensions=extensions
        )
        return PushResult.model_validate(
            await self.client.request("POST", f"/api/import/{self.id}/record", json=body)
        )

    async def delete_records(
        self,
        *,
        taxes: Sequence[str | TaxKey | Mapping[str, Any]] | None = None,
        categories: Sequence[str | CategoryKey | Mapping[str, Any]] | None = None,
        media: Sequence[str | MediaKey | Mapping[str, Any]] | None = None,
        products: Sequence[str | ProductKey | Mapping[str, Any]] | None = None,
        extensions: Mapping[str, Sequence[str | IdRef | Mapping[str, Any]]] | None = None,
    ) -> PushResult:
        """Queue deletions (ids, or keys naming the entities); they run at commit."""
        body = collections_body(
            taxes=taxes, categories=categories, media=media, products=products, extensions=extensions
        )
        return PushResult.model_validate(
            await self.client.request("POST", f"/api/import/{self.id}/record/delete", json=body)
        )

    async def unassign_records(
        self, *, products: Sequence[ProductUnassign | Mapping[str, Any]] | None = None
    ) -> PushResult:
        """Queue removals of product links (media, categories, properties); they run at commit."""
        return PushResult.model_validate(
            await self.client.request(
                "POST", f"/api/import/{self.id}/record/unassign", json=collections_body(products=products)
            )
        )

    async def commit(self) -> None:
        """Commit the import. Raises ``CatalogImportError`` (``IMPORT_ALREADY_COMMITTED``) when it was
        committed before, unless this call retries one of this session whose answer was lost."""
        retrying = self._commit_unanswered
        self._commit_unanswered = True
        try:
            await self.client.request("POST", f"/api/import/{self.id}/commit")
        except CatalogImportError as error:
            self._commit_unanswered = False
            # The retried commit was accepted the first time: committed all the same.
            if not (retrying and error.code == "IMPORT_ALREADY_COMMITTED"):
                raise
        self._commit_unanswered = False

    async def cancel(self) -> None:
        await self.client.request("POST", f"/api/import/{self.id}/cancel")

    async def status(self) -> Status:
        return Status.model_validate(await self.client.request("GET", f"/api/import/{self.id}/status"))

    async def failures(
        self, *, include_records: bool = False, of_validation: bool = False, page_size: int = 1000
    ) -> list[Failure]:
        """Every failure of the import, in the order found; ``include_records``: each failure of a root
        record with that record as it was pushed (``Failure.record``), to correct and push again;
        ``of_validation``: the failures of the import's latest validation instead."""
        params: dict[str, Any] = {"limit": page_size}
        if include_records:
            params["include"] = "record"
        if of_validation:
            params["of"] = "validation"
        failures: list[Failure] = []
        while True:
            page = await self.client.request("GET", f"/api/import/{self.id}/failures", params=params)
            failures += [Failure.model_validate(item) for item in page["items"]]
            if page["nextCursor"] is None:
                return failures
            params["cursor"] = page["nextCursor"]

    async def retry(self, *, name: str | None = None) -> tuple["AsyncImportSession", PushResult]:
        """Start a new import with this one's settings (this one must be ``done``), holding its failed and
        skipped root records again as they were first pushed: the new session, and what became of those
        records (each ``RecordResult.origin`` says where it was in this import). Push corrections into it,
        then commit it. Raises ``CatalogImportError`` ``IMPORT_NOT_DONE`` or ``NOTHING_TO_RETRY``."""
        answer = RetryResult.model_validate(
            await self.client.request(
                "POST", f"/api/import/{self.id}/retry", json={} if name is None else {"name": name}
            )
        )
        return AsyncImportSession(self.client, answer.import_.id.hex), answer.records

    async def validate(
        self, *, poll_seconds: float = 0.5, timeout_seconds: float | None = None
    ) -> Validation:
        """Rehearse the commit on the workers (every level and check, media downloaded and checked) and
        roll it back, and wait for what it found: the totals the commit would have and its first 100
        failures (``failures(of_validation=True)`` gives them all). Nothing reaches the catalog; the import
        stays open. Raises ``CatalogImportError`` ``VALIDATION_RUNNING``, ``IMPORT_ALREADY_COMMITTED`` or
        ``IMPORT_CANCELLED``."""
        await self.client.request("POST", f"/api/import/{self.id}/validate")
        deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
        while True:
            validation = (await self.status()).validation
            if validation is not None and validation.status == "done":
                return validation
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"validation of import {self.id} not done after {timeout_seconds} s")
            await asyncio.sleep(poll_seconds)

    async def done(self, *, poll_seconds: float = 0.5, timeout_seconds: float | None = None) -> Status:
        """Wait until the import is ``done`` (or ``cancelled``) and answer its final status."""
        deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
        while True:
            status = await self.status()
            if status.status in ("done", "cancelled"):
                return status
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"import {self.id} not done after {timeout_seconds} s")
            await asyncio.sleep(poll_seconds)


class CatalogImportClient:
    """The same client for code that is not asynchronous: every call runs to its end before it returns."""

    def __init__(self, base_url: str, client_id: str, client_secret: str, **options: Any) -> None:
        self._runner = asyncio.Runner()
        self._client = AsyncCatalogImportClient(base_url, client_id, client_secret, **options)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._run(self._client.aclose())
        self._runner.close()

    def _run(self, call: Awaitable[T]) -> T:
        async def awaited() -> T:
            return await call

        return self._runner.run(awaited())

    def start_session(self, name: str, **config: Any) -> "ImportSession":
        return ImportSession(self._run, self._run(self._client.start_session(name, **config)))

    def session(self, import_id: str) -> "ImportSession":
        return ImportSession(self._run, self._client.session(import_id))


class ImportSession:
    def __init__(self, run: Callable[[Awaitable[Any]], Any], session: AsyncImportSession) -> None:
        self._run = run
        self._session = session
        self.id = session.id

    def add_records(
        self,
        *,
        taxes: Sequence[TaxRecord | Mapping[str, Any]] | None = None,
        categories: Sequence[CategoryRecord | Mapping[str, Any]] | None = None,
        media: Sequence[MediaRecord | Mapping[str, Any]] | None = None,
        products: Sequence[ProductRecord | Mapping[str, Any]] | None = None,
        extensions: Mapping[str, Sequence[CustomRecord | Mapping[str, Any]]] | None = None,
    ) -> PushResult:
        """As ``AsyncImportSession.add_records``."""
        result: PushResult = self._run(
            self._session.add_records(
                taxes=taxes, categories=categories, media=media, products=products, extensions=extensions
            )
        )
        return result

    def delete_records(
        self,
        *,
        taxes: Sequence[str | TaxKey | Mapping[str, Any]] | None = None,
        categories: Sequence[str | CategoryKey | Mapping[str, Any]] | None = None,
        media: Sequence[str | MediaKey | Mapping[str, Any]] | None = None,
        products: Sequence[str | ProductKey | Mapping[str, Any]] | None = None,
        extensions: Mapping[str, Sequence[str | IdRef | Mapping[str, Any]]] | None = None,
    ) -> PushResult:
        """As ``AsyncImportSession.delete_records``."""
        result: PushResult = self._run(
            self._session.delete_records(
                taxes=taxes, categories=categories, media=media, products=products, extensions=extensions
            )
        )
        return result

    def unassign_records(
        self, *, products: Sequence[ProductUnassign | Mapping[str, Any]] | None = None
    ) -> PushResult:
        """As ``AsyncImportSession.unassign_records``."""
        result: PushResult = self._run(self._session.unassign_records(products=products))
        return result

    def commit(self) -> None:
        self._run(self._session.commit())

    def cancel(self) -> None:
        self._run(self._session.cancel())

    def status(self) -> Status:
        result: Status = self._run(self._session.status())
        return result

    def failures(
        self, *, include_records: bool = False, of_validation: bool = False, page_size: int = 1000
    ) -> list[Failure]:
        """As ``AsyncImportSession.failures``."""
        result: list[Failure] = self._run(
            self._session.failures(
                include_records=include_records, of_validation=of_validation, page_size=page_size
            )
        )
        return result

    def validate(self, *, poll_seconds: float = 0.5, timeout_seconds: float | None = None) -> Validation:
        """As ``AsyncImportSession.validate``."""
        result: Validation = self._run(
            self._session.validate(poll_seconds=poll_seconds, timeout_seconds=timeout_seconds)
        )
        return result

    def retry(self, *, name: str | None = None) -> tuple["ImportSession", PushResult]:
        """As ``AsyncImportSession.retry``."""
        session, result = self._run(self._session.retry(name=name))
        return ImportSession(self._run, session), result

    def done(self, *, poll_seconds: float = 0.5, timeout_seconds: float | None = None) -> Status:
        result: Status = self._run(
            self._session.done(poll_seconds=poll_seconds, timeout_seconds=timeout_seconds)
        )
        return result


__all__ = [
    "AsyncCatalogImportClient",
    "AsyncImportSession",
    "CatalogImportClient",
    "CatalogImportError",
    "CategoryKey",
    "CategoryRecord",
    "CategoryRef",
    "CurrencyIdRef",
    "CustomRecord",
    "Failure",
    "FailureDetail",
    "FolderRef",
    "IdRef",
    "ImportSession",
    "MediaKey",
    "MediaRecord",
    "MediaRef",
    "MediaUnassignRef",
    "OptionRef",
    "Price",
    "Problem",
    "ProductKey",
    "ProductRecord",
    "ProductRef",
    "ProductUnassign",
    "PushResult",
    "RecordOrigin",
    "RecordResult",
    "RetryResult",
    "Status",
    "TaxKey",
    "TaxRecord",
    "TaxRef",
    "Validation",
    "VariantOption",
    "VariantOverride",
]
