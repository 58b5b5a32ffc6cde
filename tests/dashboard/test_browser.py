"""The dashboard in a real headless Chromium: signing in, watching an import progress to done without a
page reload, going through its failures, and cancelling another import. The import is held at a known
point by a row lock on the one product its last level updates, so what the page shows while it is
importing is certain."""

import csv
import io
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from playwright.async_api import Page, expect
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import Api, product

# How long the page may take to show what the server knows (it polls every second).
LIVE_TIMEOUT_MS = 30_000
SHELVES = 30


async def sign_in_with_the_form(page: Page, api: Api) -> None:
    await page.goto("/dashboard")
    await expect(page).to_have_url(re.compile(r"/dashboard/login$"))
    await page.get_by_label("Client id").fill(api.client_id)
    await page.get_by_label("Client secret").fill(api.client_secret)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(re.compile(r"/dashboard$"))
    await expect(page.get_by_text("Signed in as")).to_contain_text("main")


@asynccontextmanager
async def product_row_locked(
    session_factory: async_sessionmaker[AsyncSession], number: str
) -> AsyncIterator[None]:
    """Hold a row lock on a product: a batch that writes it waits until the lock is released."""
    async with session_factory() as session, session.begin():
        locked = await session.scalar(
            text("SELECT count(*) FROM (SELECT 1 FROM products WHERE product_number = :n FOR UPDATE) l"),
            {"n": number},
        )
        assert locked == 1
        yield


def held_import_records() -> tuple[dict[str, Any], dict[str, Any]]:
    """Two pushes. The first: shelves (root categories) to write, two categories under a parent nobody
    creates and six products naming a category nobody creates (both fail when the commit is prepared).
    The second: an update of product HELD that links every shelf and a media, so it depends on all of them
    and is the only record of the last level (the media is skipped with a warning: URL uploads are off)."""
    first = {
        "categories": [{"name": f"Shelf {index}"} for index in range(SHELVES)]
        + [{"name": f"Lost {index}", "parent": ["Nowhere"]} for index in range(2)],
        "products": [
            product(f"BAD-{index}", categories=[{"path": ["Nowhere", f"Missing {index}"]}])
            for index in range(6)
        ],
    }
    second = {
        "products": [
            {
                "productNumber": "HELD",
                "name": "Held back",
                "categories": [{"path": [f"Shelf {index}"]} for index in range(SHELVES)],
                "media": [{"url": "http://127.0.0.1:9/held.png", "title": "held"}],
            }
        ]
    }
    return first, second


async def test_watch_an_import_progress_to_done_and_open_its_failures(
    page: Page,
    api: Api,
    session_factory: async_sessionmaker[AsyncSession],
    screenshot: Any,
) -> None:
    seed = await api.start("seed")
    await api.push(seed, {"products": [product("HELD")]})
    assert (await api.commit_and_run(seed))["status"] == "done"
    import_id = await api.start("nightly", deferReferences=True)
    for body in held_import_records():
        await api.push(import_id, body)

    await sign_in_with_the_form(page, api)
    row = page.locator(f'tr[data-id="{import_id}"]')
    await expect(row.get_by_text("started", exact=True)).to_be_visible()
    await expect(row).to_contain_text("40 records staged")
    await page.evaluate("window.stillTheSamePage = true")

    async with product_row_locked(session_factory, "HELD"):
        await api.commit(import_id)
        # Everything is written but the last level's one record, which waits for the lock.
        await expect(row).to_contain_text("39 of 40 records", timeout=LIVE_TIMEOUT_MS)
        await expect(row.get_by_text("importing", exact=True)).to_be_visible()
        await expect(row).to_contain_text("level 2 of 2")
        await expect(row.locator("progress")).to_have_attribute("value", "97")
        await screenshot(page, "importing")

    await expect(row.get_by_text("done", exact=True)).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    await expect(row).to_contain_text("40 of 40 records")
    await expect(row.locator("progress")).to_have_attribute("value", "100")
    await expect(row).to_contain_text("category 30")
    await expect(row.get_by_role("link", name="Failures of nightly")).to_have_text("8")
    assert await page.evaluate("window.stillTheSamePage === true"), "the page was reloaded"
    await screenshot(page, "done")

    # Its failures: eight failed records (errors) and a warning for the product held back.
    await row.get_by_role("link", name="Failures of nightly").click()
    await expect(page).to_have_url(re.compile(rf"/dashboard/imports/{import_id}#failures$"))
    await expect(page.get_by_role("heading", level=1)).to_contain_text("nightly")
    failures = page.locator("table.failures tbody tr")
    await expect(failures).to_have_count(9)
    await expect(page.locator("table.failures .badge.severity-error").first).to_be_visible()
    await expect(page.locator("table.failures").get_by_text("MEDIA_URL_UPLOAD_DISABLED")).to_be_visible()
    await expect(page.locator("figure.chart svg rect.bar").first).to_be_attached()
    await expect(page.locator('dd[data-field="throughputText"]')).to_contain_text("records/s")
    await screenshot(page, "failures")

    await page.get_by_label("Severity").select_option("error")
    await page.get_by_label("Entity").select_option("category")
    await page.get_by_role("button", name="Filter").click()
    await expect(failures).to_have_count(2)
    await expect(failures.first).to_contain_text("categories.")

    await page.get_by_label("Severity").select_option("debug")
    await page.get_by_label("Entity").select_option("")
    await page.get_by_label("Per page").select_option("10")
    await page.get_by_role("button", name="Filter").click()
    await expect(failures).to_have_count(9)

    await page.goto(f"/dashboard/imports/{import_id}?limit=5")
    seen = await failures.locator("td:nth-child(2)").all_inner_texts()
    await page.get_by_role("link", name="Next page").click()
    seen += await failures.locator("td:nth-child(2)").all_inner_texts()
    await expect(page.get_by_role("link", name="Next page")).to_have_count(0)
    await expect(page.get_by_role("link", name="First page")).to_be_visible()
    assert len(seen) == len(set(seen)) == 9

    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="CSV").click()
    download = await download_info.value
    assert download.suggested_filename == f"import-{import_id}-failures.csv"
    content = (await download.path()).read_text()
    rows = list(csv.DictReader(io.StringIO(content)))
    assert {row["path"] for row in rows} >= {"categories.30", "categories.31", "products.0"}
    assert any(row["code"] == "MEDIA_URL_UPLOAD_DISABLED" and row["severity"] == "warning" for row in rows)


async def test_cancel_an_import_that_was_not_committed(page: Page, api: Api, screenshot: Any) -> None:
    kept = await api.start("keep me")
    await api.push(kept, {"products": [product("K1")]})
    dropped = await api.start("drop me")
    await api.push(dropped, {"products": [product("D1"), product("D2")]})

    await sign_in_with_the_form(page, api)
    await page.get_by_role("link", name="drop me", exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("drop me")

    # Asked first; keeping it changes nothing.
    await page.get_by_role("link", name="Cancel the import…").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("3 records staged")  # and the tax they create
    await screenshot(page, "confirm")
    await dialog.get_by_role("button", name="Keep it").click()
    await expect(dialog).to_be_hidden()
    assert (await api.status(dropped))["status"] == "started"

    await page.get_by_role("link", name="Cancel the import…").click()
    await dialog.get_by_role("button", name="Cancel the import").click()
    await expect(page.get_by_role("status").filter(has_text="The import was cancelled")).to_be_visible()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("cancelled")
    await expect(page.get_by_role("link", name="Cancel the import…")).to_be_hidden()
    await screenshot(page, "cancelled")
    assert (await api.status(dropped))["status"] == "cancelled"
    assert (await api.status(kept))["status"] == "started"

    await page.get_by_role("link", name="Imports", exact=True).click()
    await expect(page.locator(f'tr[data-id="{dropped}"]')).to_contain_text("cancelled")
    await expect(page.locator(f'tr[data-id="{kept}"]')).to_contain_text("started")


async def test_a_wrong_secret_is_told_on_the_form(page: Page, api: Api, screenshot: Any) -> None:
    await page.goto("/dashboard/login")
    await page.get_by_label("Client id").fill(api.client_id)
    await page.get_by_label("Client secret").fill("not the secret")
    await page.get_by_role("button", name="Sign in").click()

    await expect(page.get_by_role("alert")).to_have_text("Unknown client id or wrong secret.")
    await expect(page.get_by_label("Client id")).to_have_value(api.client_id)
    await screenshot(page, "refused")
