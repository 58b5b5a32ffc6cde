"""The dashboard's rules: signing in with an integration's credentials, and its views of imports built on
the import session's own service (listing, status, cancel) and on the dashboard's repository (failures by
severity and entity, the throughput chart). Every import is read for one integration: its own. Services
never commit."""

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from catalog_import.dashboard import views
from catalog_import.dashboard.repository import DashboardRepository
from catalog_import.dashboard.sessions import DashboardSession, secret_version
from catalog_import.imports import schemas
from catalog_import.imports import service as imports
from catalog_import.imports.views import failure_schema
from catalog_import.models import ImportFailure, ImportStatus
from catalog_import.pagination import encode_cursor, number_after
from catalog_import.problems import Severity

# Failures read per query while a download is written.
DOWNLOAD_CHUNK = 500


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The integration a dashboard session belongs to."""

    integration_id: uuid.UUID
    name: str
    client_id: str
    csrf_token: str


@dataclass(frozen=True, slots=True)
class FailureFilters:
    """Which failures to show: of this severity or worse, of this entity (any when None)."""

    min_severity: Severity = Severity.DEBUG
    entity: str | None = None


@dataclass(slots=True)
class FailurePage:
    items: list[schemas.Failure] = field(default_factory=list)
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class ImportDetails:
    item: views.ImportView
    chart: views.Throughput | None
    failures: FailurePage


async def signed_in(session: AsyncSession, dashboard_session: DashboardSession | None) -> SignedIn | None:
    """Who is signed in with this session: None when nobody is, the integration is gone, or its secret
    changed since the session began."""
    if dashboard_session is None or dashboard_session.integration_id is None:
        return None
    integration = await DashboardRepository(session).integration(dashboard_session.integration_id)
    if integration is None or dashboard_session.secret_version != secret_version(integration.secret_hash):
        return None
    return SignedIn(integration.id, integration.name, integration.client_id, dashboard_session.csrf_token)


async def import_list(
    session: AsyncSession,
    integration_id: uuid.UUID,
    status: ImportStatus | None,
    cursor: str | None,
    limit: int,
    stalled_after_seconds: float,
) -> tuple[list[views.ImportView], str | None]:
    page = await imports.list_imports(session, integration_id, status, cursor, limit, stalled_after_seconds)
    return [views.ImportView.of(summary) for summary in page.items], page.next_cursor


async def import_view(
    session: AsyncSession, integration_id: uuid.UUID, import_id: uuid.UUID, stalled_after_seconds: float
) -> views.ImportView:
    status = await imports.import_status(session, integration_id, import_id, stalled_after_seconds)
    return views.ImportView.of(status)


async def import_live(
    session: AsyncSession,
    integration_id: uuid.UUID,
    import_id: uuid.UUID,
    stalled_after_seconds: float,
    *,
    chart: bool,
) -> tuple[views.ImportView, views.Throughput | None]:
    """The import's figures as its page polls them, with the throughput chart when asked for."""
    item = await import_view(session, integration_id, import_id, stalled_after_seconds)
    throughput = await _throughput(session, import_id) if chart else None
    return item, throughput


async def import_details(
    session: AsyncSession,
    integration_id: uuid.UUID,
    import_id: uuid.UUID,
    filters: FailureFilters,
    cursor: str | None,
    limit: int,
    stalled_after_seconds: float,
) -> ImportDetails:
    """Everything an import's page shows: its figures, the chart and one page of its failures."""
    item = await import_view(session, integration_id, import_id, stalled_after_seconds)
    failures = await _failures(DashboardRepository(session), import_id, filters, number_after(cursor), limit)
    return ImportDetails(item, await _throughput(session, import_id), failures)


async def ensure_visible(session: AsyncSession, integration_id: uuid.UUID, import_id: uuid.UUID) -> None:
    """``ImportNotFound`` unless the import is one of the integration's."""
    await imports.get_import(session, integration_id, import_id)


async def all_failures(
    session: AsyncSession, import_id: uuid.UUID, filters: FailureFilters
) -> AsyncIterator[schemas.Failure]:
    """Every failure of the import that the filters keep, read a chunk at a time (for a download; the
    caller has checked with ``ensure_visible`` that the import may be seen)."""
    repository = DashboardRepository(session)
    after: int | None = None
    while True:
        rows = await _failure_rows(repository, import_id, filters, after, DOWNLOAD_CHUNK)
        for row in rows:
            yield failure_schema(row)
        if len(rows) < DOWNLOAD_CHUNK:
            return
        after = rows[-1].number


async def _throughput(session: AsyncSession, import_id: uuid.UUID) -> views.Throughput | None:
    """Records settled per second since the commit; None before it."""
    repository = DashboardRepository(session)
    span = await repository.time_span(import_id)
    if span is None:
        return None
    since, until = span
    return views.throughput(await repository.settled_batches(import_id), since, until)


async def _failure_rows(
    repository: DashboardRepository,
    import_id: uuid.UUID,
    filters: FailureFilters,
    after: int | None,
    limit: int,
) -> Sequence[ImportFailure]:
    return await repository.failures(
        import_id,
        entity=filters.entity,
        max_severity_code=int(filters.min_severity),
        after=after,
        limit=limit,
    )


async def _failures(
    repository: DashboardRepository,
    import_id: uuid.UUID,
    filters: FailureFilters,
    after: int | None,
    limit: int,
) -> FailurePage:
    """One page of the import's failures, in the order they were found."""
    rows = await _failure_rows(repository, import_id, filters, after, limit + 1)
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1].number) if len(rows) > limit else None
    return FailurePage([failure_schema(row) for row in page], next_cursor)


async def cancel(session: AsyncSession, integration_id: uuid.UUID, import_id: uuid.UUID) -> None:
    await imports.cancel_import(session, integration_id, import_id)
