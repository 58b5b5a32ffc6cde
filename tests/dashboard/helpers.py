"""Helpers of the dashboard tests: signing in through the form, reading a page's CSRF token, and imports
with failures of several severities and entities."""

import re
from typing import Any

import httpx

from catalog_import.media.services import MediaServices
from tests.factories import Api, product

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(page: httpx.Response) -> str:
    found = CSRF_FIELD.search(page.text)
    assert found, page.text
    return found.group(1)


async def sign_in(
    client: httpx.AsyncClient,
    client_id: str,
    client_secret: str,
    *,
    origin: str | None = None,
    next_page: str | None = None,
) -> httpx.Response:
    """Fill in the sign-in form as a browser would (opened for ``next_page`` when given); the answer to
    its POST."""
    form = await client.get("/dashboard/login", params={"next": next_page} if next_page else None)
    assert form.status_code == 200, form.text
    data = {"csrf_token": csrf_token(form), "client_id": client_id, "client_secret": client_secret}
    if next_page is not None:
        data["next"] = next_page
    return await client.post(
        "/dashboard/login", data=data, headers={"Origin": origin or str(client.base_url).rstrip("/")}
    )


async def signed_in(client: httpx.AsyncClient, api: Api) -> str:
    """Sign in as ``api``'s integration; the session's CSRF token."""
    response = await sign_in(client, api.client_id, api.client_secret)
    assert response.status_code == 303, response.text
    page = await client.get("/dashboard")
    assert page.status_code == 200, page.text
    return csrf_token(page)


def failing_records(ok: int = 3, missing_category: int = 4, with_media: int = 2) -> dict[str, Any]:
    """A push for an import started with ``deferReferences``: ``ok`` products, ``missing_category``
    products naming a category nobody creates (they fail at commit: error), ``with_media`` products with
    a media URL (a warning while URL uploads are off), and one category under a parent nobody creates."""
    products = [product(f"OK-{index}") for index in range(ok)]
    products += [
        product(f"BAD-{index}", categories=[{"path": ["Nowhere", f"Missing {index}"]}])
        for index in range(missing_category)
    ]
    products += [
        product(f"PIC-{index}", media=[{"url": f"http://127.0.0.1:9/pic-{index}.png"}])
        for index in range(with_media)
    ]
    return {"categories": [{"name": "Orphan", "parent": ["Nowhere", "Else"]}], "products": products}


async def import_with_failures(
    api: Api, media_off: MediaServices, name: str = "with-failures", **counts: int
) -> str:
    """A committed and written import with failures (see ``failing_records``); its id."""
    import_id = await api.start(name, deferReferences=True)
    await api.push(import_id, failing_records(**counts))
    await api.commit(import_id)
    status = await api.run(import_id, media=media_off)
    assert status["status"] == "done", status
    return import_id
