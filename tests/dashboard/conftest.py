"""Fixtures of the dashboard tests: the app on httpx's ASGI transport with a cookie jar per test, media
services with URL uploads off (for warnings), and, for the browser tests, Debian's Chromium (installed
with apt when missing) driven by Playwright, with screenshots kept under ``test-artifacts/dashboard``."""

import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, Page, async_playwright

from catalog_import.app import create_app
from catalog_import.config import Settings
from catalog_import.media.services import MediaServices, media_services
from tests.live import serve_process

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "dashboard"
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="session")
async def dashboard_app(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def web(dashboard_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the dashboard with a cookie jar of its own, as one browser."""
    transport = httpx.ASGITransport(app=dashboard_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture(scope="session")
async def media_off(settings: Settings) -> AsyncIterator[MediaServices]:
    """Media services with URL uploads off: media are skipped with a warning."""
    services = media_services(settings.model_copy(update={"media_url_upload_enabled": False}))
    yield services
    await services.aclose()


# -- the browser tests -----------------------------------------------------------------------------------

SAVED_SCREENSHOTS: list[Path] = []


def install_chromium() -> None:
    """Debian's Chromium from the distribution's packages (the tests run as root on Debian); Playwright
    never downloads a browser of its own."""
    apt_get = shutil.which("apt-get")
    if apt_get is None or os.geteuid() != 0:
        pytest.skip(f"{CHROMIUM} is missing and cannot be installed here (needs root and apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in ([apt_get, "update", "-q"], [apt_get, "install", "-y", "-q", "chromium"]):
        try:
            subprocess.run(
                command,
                check=True,
                env=env,
                timeout=1200,
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.CalledProcessError as exc:
            reason = (exc.stderr or exc.stdout or "").strip().splitlines()[-1:] or ["no output"]
            pytest.skip(f"`{' '.join(command)}` failed ({exc.returncode}): {reason[0]}")
        except subprocess.TimeoutExpired:
            pytest.skip(f"`{' '.join(command)}` did not finish in time")


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        install_chromium()
    assert CHROMIUM.exists()
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(chromium), headless=True)
        yield launched
        await launched.close()


@pytest.fixture(scope="module")
def dashboard_server(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``catalog-import serve`` (API, dashboard and one worker) on a loopback port. Its worker takes
    the jobs the tests' own app queues, writes 10 records per batch, and skips media with a warning."""
    with serve_process(
        settings,
        tmp_path_factory.mktemp("dashboard-server"),
        CATALOG_IMPORT_QUEUE_NAME=settings.queue_name,
        CATALOG_IMPORT_COMMIT_BATCH_SIZE="10",
        CATALOG_IMPORT_MEDIA_URL_UPLOAD_ENABLED="false",
    ) as url:
        yield url


@pytest.fixture
async def page(browser: Browser, dashboard_server: str) -> AsyncIterator[Page]:
    """A page in a browser context of its own (no cookies from other tests)."""
    context = await browser.new_context(base_url=dashboard_server, viewport={"width": 1280, "height": 900})
    opened = await context.new_page()
    yield opened
    await context.close()


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Any:
    """``await screenshot(page, "step")`` keeps a full-page screenshot under ``test-artifacts/dashboard``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    async def take(shown: Page, step: str) -> Path:
        path = ARTIFACTS / f"{request.node.name}-{step}.png"
        await shown.screenshot(path=str(path), full_page=True)
        SAVED_SCREENSHOTS.append(path)
        return path

    return take


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if SAVED_SCREENSHOTS:
        terminalreporter.write_sep("-", f"dashboard screenshots ({len(SAVED_SCREENSHOTS)}) in {ARTIFACTS}")
        for path in SAVED_SCREENSHOTS:
            terminalreporter.write_line(str(path))
