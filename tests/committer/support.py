"""Shared helpers of the commit tests: catalog reads by natural key, paging, and the staged records of an
import where no HTTP answer shows them (levels, record states)."""

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from catalog_import.committer.repository import CommitRepository
from catalog_import.models import ImportRecord
from tests.factories import Api


@dataclass(frozen=True, slots=True)
class StagedRow:
    """One staged record of an import as the commit left it."""

    operation: str
    entity: str
    entity_id: str
    natural_key: str | None
    root: bool
    path: str
    level: int
    state: str


async def staged_rows(api: Api, import_id: str) -> list[StagedRow]:
    async with api.session_factory() as session:
        states = await CommitRepository(session).record_states(uuid.UUID(import_id))
        records = await session.scalars(
            select(ImportRecord)
            .where(ImportRecord.import_id == uuid.UUID(import_id))
            .order_by(ImportRecord.record_id)
        )
        return [
            StagedRow(
                r.operation,
                r.entity,
                r.entity_id.hex,
                r.natural_key,
                r.root,
                r.path,
                r.level,
                states[r.record_id].state,
            )
            for r in records
        ]


def levels_by_key(rows: list[StagedRow]) -> dict[tuple[str, str], int]:
    """Level of each staged record by (entity, natural key); category keys joined with ``/``."""
    return {(row.entity, (row.natural_key or row.entity_id).replace("\x1f", "/")): row.level for row in rows}


async def get_ok(api: Api, endpoint: str, /, **params: Any) -> Any:
    response = await api.get(endpoint, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def all_items(api: Api, endpoint: str, /, **params: Any) -> list[dict[str, Any]]:
    """Every item of a paginated list."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = await get_ok(api, endpoint, **params, **({"cursor": cursor} if cursor else {}))
        items.extend(page["items"])
        cursor = page["nextCursor"]
        if cursor is None:
            return items


async def categories_at(api: Api, *path: str) -> list[dict[str, Any]]:
    page = await get_ok(api, "/api/catalog/categories", path=list(path))
    items: list[dict[str, Any]] = page["items"]
    return items


async def category(api: Api, *path: str) -> dict[str, Any]:
    """The category at ``path``; exactly one must exist."""
    items = await categories_at(api, *path)
    assert len(items) == 1, (path, items)
    return items[0]


async def products_numbered(api: Api, number: str) -> list[dict[str, Any]]:
    page = await get_ok(api, "/api/catalog/products", productNumber=number)
    items: list[dict[str, Any]] = page["items"]
    return items


async def tax_names(api: Api) -> list[str]:
    return sorted(tax["name"] for tax in await all_items(api, "/api/catalog/taxes"))


def codes(problems: list[dict[str, Any]]) -> list[str]:
    return [problem["code"] for problem in problems]


def failure_at(status: dict[str, Any], path: str) -> dict[str, Any]:
    """The failure of the root record pushed at ``path`` (in whichever push)."""
    found: list[dict[str, Any]] = [failure for failure in status["failures"] if failure["path"] == path]
    assert len(found) == 1, (path, status["failures"])
    return found[0]
