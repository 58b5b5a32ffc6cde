"""``catalog-import demo --url``: the sample catalog imported into a real server on a loopback port, its
pictures downloaded from the demo's file server on 127.0.0.1; and what the demo says when the server may
not fetch from there. The sample itself: the same every time, every picture on the loopback server."""

import re
from pathlib import Path
from typing import Any

from click.testing import Result
from typer.testing import CliRunner

from catalog_import.cli import app
from catalog_import.cli.demo import MISSING_PICTURE, sample_catalog
from catalog_import.config import Settings
from tests.live import CLIENT_ID, CLIENT_SECRET, live_get, serve_process


def demo(url: str) -> Result:
    return CliRunner().invoke(
        app,
        ["demo", "--url", url, "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET],
        env={"COLUMNS": "240"},
    )


def get(url: str, path: str, **params: str) -> Any:
    response = live_get(url, path, **params)
    return response.json() if path.startswith("/api/") else response.content


def test_the_demo_imports_its_sample_into_a_running_server(live_server: str) -> None:
    result = demo(live_server)

    assert result.exit_code == 0, result.output
    found = re.search(
        r"Sample catalog: 50 products \(26 variants\), 13 categories, 2 taxes, 49 pictures served from "
        r"(http://127\.0\.0\.1:\d+) \(this machine only\)",
        result.stdout,
    )
    assert found, result.stdout
    pictures = found.group(1)
    assert re.search(r"Import [0-9a-f]{32} done in [0-9.]+ s", result.stdout)
    assert re.search(r"written +75 products, 13 categories, 49 media, 2 taxes", result.stdout)
    assert "As planned, the bird house (line 50) failed" in result.stdout
    assert f"{live_server}/api/catalog/products?productNumber=DEMO-1001" in result.stdout

    [shirt] = get(live_server, "/api/catalog/products", productNumber="DEMO-1001")["items"]
    assert shirt["name"] == "Linen shirt"
    assert len(shirt["variantIds"]) == 6  # sizes S, M, L in white and in blue
    assert ["Home", "Clothing", "Shirts"] in [category["path"] for category in shirt["categories"]]
    [picture] = shirt["media"]
    assert picture["sourceUrl"] == f"{pictures}/demo-1001.jpg"
    assert (picture["mimeType"], picture["title"]) == ("image/jpeg", "Linen shirt")
    assert picture["size"] > 1000
    downloaded = get(live_server, picture["url"])
    assert downloaded.startswith(b"\xff\xd8") and len(downloaded) == picture["size"]
    assert get(live_server, "/api/catalog/products", productNumber="DEMO-1050")["items"] == []


def test_the_demo_says_how_to_let_a_server_fetch_its_pictures(settings: Settings, tmp_path: Path) -> None:
    with serve_process(settings, tmp_path, CATALOG_IMPORT_MEDIA_ALLOWED_HOSTS="") as url:
        result = demo(url)

    assert result.exit_code == 1, result.output
    assert "MEDIA_URL_FORBIDDEN" in result.stdout
    assert "start it with CATALOG_IMPORT_MEDIA_ALLOWED_HOSTS=127.0.0.1" in result.stdout


def test_the_sample_is_the_same_every_time_and_its_pictures_are_on_the_given_server() -> None:
    first, second = sample_catalog("http://127.0.0.1:1"), sample_catalog("http://127.0.0.1:1")

    assert first.products == second.products
    urls = [media["url"] for record in first.products for media in record["media"]]
    assert len(urls) == len(first.products) == 50
    assert all(url.startswith("http://127.0.0.1:1/") for url in urls)
    # Every picture is served but the one missing on purpose.
    served = {f"http://127.0.0.1:1{path}" for path in first.pictures}
    assert [record["name"] for record in first.products if record["media"][0]["url"] not in served] == [
        MISSING_PICTURE
    ]
    assert all(picture.startswith(b"\xff\xd8") for picture in first.pictures.values())
