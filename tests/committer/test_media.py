"""Media through the import API, end to end: files downloaded during the commit from a loopback server,
described in the catalog views and served at ``/media/{id}/{filename}``; one URL downloaded once; a failed
download failing only its product (whose other new media are undone, files included); the URL rules, type
and size checks; URL upload switched off; root media records, deletes and unassigns; a download killed
half-way leaving nothing behind; and a file removed between its download and its use."""

import asyncio
import contextlib
import hashlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from catalog_import.config import Settings
from catalog_import.media.download import IN_MEMORY_BYTES, Downloader
from catalog_import.media.services import MediaServices, media_services, media_storage
from catalog_import.media.storage import LocalMediaStorage
from catalog_import.models import MediaFolder
from tests.committer.support import codes, failure_at, get_ok, products_numbered
from tests.factories import Api, product
from tests.media.servers import LoopbackServer as MediaServer
from tests.media.servers import Reply

NESTED_FAILED = {
    "severity": "error",
    "severityCode": 3,
    "code": "NESTED_FAILED",
    "entity": "product",
    "path": "products.0",
    "message": "Product not imported: a nested record failed",
}


@pytest.fixture
def server() -> Iterator[MediaServer]:
    with MediaServer() as started:
        yield started


@contextlib.asynccontextmanager
async def services_with(settings: Settings, **changes: Any) -> AsyncIterator[MediaServices]:
    """Media services of a worker started with other settings."""
    services = media_services(settings.model_copy(update=changes))
    try:
        yield services
    finally:
        await services.aclose()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stored(media_dir: Path, digest: str) -> list[Path]:
    """The files kept in the media storage under ``digest``."""
    return [path for path in media_dir.rglob(digest) if path.is_file()]


def partial_downloads(media_dir: Path) -> list[Path]:
    return sorted((media_dir / "tmp").glob("*.part"))


async def fetch_file(api: Api, url: str) -> httpx.Response:
    """GET a media file as a browser would: no token."""
    return await api.client.get(url)


async def media_at(api: Api, url: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await get_ok(api, "/api/catalog/media", url=url))["items"]
    return items


async def run_import(api: Api, body: dict[str, Any], media: MediaServices | None = None) -> dict[str, Any]:
    """Start, push ``body`` (expecting no errors), commit and run with ``media``: the final status."""
    import_id = await api.start()
    pushed = await api.push(import_id, body)
    assert not pushed["containsErrors"], pushed
    await api.commit(import_id)
    return await api.run(import_id, media=media)


def single_media_failure(status: dict[str, Any], code: str, url: str) -> dict[str, Any]:
    """The failure of ``products.0``, whose only media (at ``url``) failed with ``code``; its first detail."""
    failure = failure_at(status, "products.0")
    assert failure["entity"] == "product"
    assert codes(failure["details"]) == [code, "NESTED_FAILED"]
    detail, nested = failure["details"]
    assert {k: v for k, v in detail.items() if k != "message"} == {
        "severity": "error",
        "severityCode": 3,
        "code": code,
        "entity": "media",
        "path": "products.0.media.0",
    }
    assert url in detail["message"]
    assert nested == NESTED_FAILED
    assert status["totals"]["failures"] == 1
    return dict(detail)


class TestDownloadedMedia:
    async def import_shoe(self, api: Api, server: MediaServer) -> tuple[dict[str, Any], dict[str, Any]]:
        front = server.image("/shoes/front.png")
        svg = (
            '<svg xmlns="http://www.w3.org/2000/svg" width="3" height="2">'
            f'<rect id="r{server.salt}" width="3" height="2"/></svg>'
        ).encode()
        side = server.serve("/shoes/side", Reply(body=svg, content_type="image/svg+xml"))
        status = await api.import_records(
            {
                "products": [
                    product(
                        "SHOE",
                        media=[
                            {"url": front, "title": "Front", "alt": "The shoe from the front"},
                            {"url": side, "filename": "side-view.svg"},
                        ],
                    )
                ]
            }
        )
        assert status["status"] == "done"
        assert status["failures"] == []
        assert status["totals"] == {
            "product": 1,
            "media": 2,
            "category": 0,
            "tax": 1,
            "total": 4,
            "failures": 0,
        }
        front_view, side_view = (await api.product("SHOE"))["media"]
        front_bytes = server.png("/shoes/front.png")
        assert front_view == {
            "id": front_view["id"],
            "url": f"/media/{front_view['id']}/front.png",
            "sourceUrl": front,
            "title": "Front",
            "alt": "The shoe from the front",
            "filename": "front.png",
            "mimeType": "image/png",
            "size": len(front_bytes),
            "sha256": sha256(front_bytes),
            "position": 0,
        }
        assert side_view == {
            "id": side_view["id"],
            "url": f"/media/{side_view['id']}/side-view.svg",
            "sourceUrl": side,
            "title": None,
            "alt": None,
            "filename": "side-view.svg",
            "mimeType": "image/svg+xml",
            "size": len(svg),
            "sha256": sha256(svg),
            "position": 1,
        }
        return front_view, side_view

    async def test_product_media_are_downloaded_and_described(self, api: Api, server: MediaServer) -> None:
        await self.import_shoe(api, server)

        assert server.requests("/shoes/front.png") == server.requests("/shoes/side") == 1

    async def test_file_is_served_without_a_token_with_safe_headers(
        self, api: Api, server: MediaServer
    ) -> None:
        front, side = await self.import_shoe(api, server)

        for view, body in ((front, server.png("/shoes/front.png")), (side, None)):
            response = await fetch_file(api, view["url"])

            assert response.status_code == 200, response.text
            assert sha256(response.content) == view["sha256"]
            if body is not None:
                assert response.content == body
            assert response.headers["content-type"] == view["mimeType"]
            assert response.headers["x-content-type-options"] == "nosniff"
            policy = [
                directive.strip() for directive in response.headers["content-security-policy"].split(";")
            ]
            assert "sandbox" in policy
            assert "default-src 'none'" in policy

    async def test_unknown_media_or_wrong_filename_is_not_found(self, api: Api, server: MediaServer) -> None:
        front, _side = await self.import_shoe(api, server)

        for url in (
            f"/media/{front['id']}/side-view.svg",
            f"/media/{front['id']}/front.jpg",
            "/media/018a6b222b5a734d956fb03dda765bf8/front.png",
        ):
            response = await fetch_file(api, url)

            assert response.status_code == 404, url
            body = response.json()
            assert body["code"] == "MEDIA_NOT_FOUND"
            assert isinstance(body["message"], str)
            assert body["message"]

    async def test_catalog_media_endpoints_show_the_same(self, api: Api, server: MediaServer) -> None:
        front, side = await self.import_shoe(api, server)

        for view in (front, side):
            expected = {**{k: v for k, v in view.items() if k != "position"}, "folder": None}
            assert await get_ok(api, f"/api/catalog/media/{view['id']}") == expected
            assert await get_ok(api, "/api/catalog/media", url=view["sourceUrl"]) == {
                "items": [expected],
                "nextCursor": None,
            }

    async def test_media_without_filename_are_named_from_their_url(
        self, api: Api, server: MediaServer
    ) -> None:
        named = server.image("/catalog/red-shoe.png")
        rendered = server.image("/render?id=7")

        await api.import_records({"products": [product("NAMES", media=[{"url": named}, {"url": rendered}])]})

        by_name, by_id = (await api.product("NAMES"))["media"]
        assert by_name["filename"] == "red-shoe.png"
        # Nothing in the URL looks like a file name: the media's id with the extension of its type.
        assert by_id["filename"] == f"{by_id['id']}.png"
        for view, path in ((by_name, "/catalog/red-shoe.png"), (by_id, "/render?id=7")):
            assert view["url"] == f"/media/{view['id']}/{view['filename']}"
            response = await fetch_file(api, view["url"])
            assert response.status_code == 200
            assert response.content == server.png(path)

    async def test_one_url_is_one_media_downloaded_once(self, api: Api, server: MediaServer) -> None:
        url = server.image("/shared.png")

        first = await api.import_records(
            {"products": [product("ONE", media=[{"url": url}]), product("TWO", media=[{"url": url}])]}
        )
        later = await api.import_records({"products": [product("THREE", media=[{"url": url}])]})

        assert first["totals"]["media"] == 1
        assert later["totals"]["media"] == 0
        assert first["failures"] == later["failures"] == []
        views = [(await api.product(number))["media"] for number in ("ONE", "TWO", "THREE")]
        assert all(len(found) == 1 for found in views)
        assert len({found[0]["id"] for found in views}) == 1
        assert [m["id"] for m in await media_at(api, url)] == [views[0][0]["id"]]
        assert server.requests("/shared.png") == 1

    async def test_redirect_on_an_allowed_host_is_followed(self, api: Api, server: MediaServer) -> None:
        url = server.serve("/old-place.png", Reply(301, content_type=None, headers={"Location": "/new.png"}))
        server.image("/new.png")

        status = await api.import_records({"products": [product("MOVED", media=[{"url": url}])]})

        assert status["failures"] == []
        (view,) = (await api.product("MOVED"))["media"]
        assert view["sourceUrl"] == url
        assert view["filename"] == "old-place.png"
        assert view["sha256"] == sha256(server.png("/new.png"))
        assert server.requests("/old-place.png") == server.requests("/new.png") == 1


class TestFailedDownloads:
    async def test_missing_file_fails_only_its_product_and_undoes_its_other_media(
        self, api: Api, server: MediaServer, media_dir: Path
    ) -> None:
        shared = server.image("/shared.png")
        own = server.image("/broken/own.png")
        missing = server.url("/broken/missing.png")
        import_id = await api.start()
        pushed = await api.push(
            import_id,
            {
                "products": [
                    product("BROKEN", media=[{"url": shared}, {"url": own}, {"url": missing}]),
                    product("FINE", media=[{"url": shared}]),
                ]
            },
        )
        assert not pushed["containsErrors"]

        status = await api.commit_and_run(import_id)

        assert status["status"] == "done"
        assert status["totals"] == {
            "product": 1,
            "media": 1,
            "category": 0,
            "tax": 1,
            "total": 3,
            "failures": 1,
        }
        assert status["progress"]["processed"] == status["progress"]["total"] == 6
        failure = failure_at(status, "products.0")
        assert failure["entity"] == "product"
        assert failure["id"] == pushed["records"][0]["id"]
        assert failure["batch"] == 1
        download, nested = failure["details"]
        assert {k: v for k, v in download.items() if k != "message"} == {
            "severity": "error",
            "severityCode": 3,
            "code": "MEDIA_DOWNLOAD_FAILED",
            "entity": "media",
            "path": "products.0.media.2",
        }
        assert missing in download["message"]
        assert "HTTP 404" in download["message"]
        assert nested == NESTED_FAILED
        # A 404 is not retried.
        assert server.requests("/broken/missing.png") == 1
        assert await products_numbered(api, "BROKEN") == []

        # The product's own new media was downloaded, then undone with it: row and file.
        assert server.requests("/broken/own.png") == 1
        assert await media_at(api, own) == []
        assert stored(media_dir, sha256(server.png("/broken/own.png"))) == []
        # The media the written product uses stays, file included.
        (kept,) = (await api.product("FINE"))["media"]
        assert kept["sourceUrl"] == shared
        assert [m["id"] for m in await media_at(api, shared)] == [kept["id"]]
        assert len(stored(media_dir, kept["sha256"])) == 1
        response = await fetch_file(api, kept["url"])
        assert response.status_code == 200
        assert response.content == server.png("/shared.png")
        assert await media_at(api, missing) == []

    async def test_server_error_is_retried(self, api: Api, server: MediaServer) -> None:
        url = server.serve(
            "/flaky.png", Reply(500, b"try again", "text/plain"), Reply(body=server.png("/flaky.png"))
        )

        status = await api.import_records({"products": [product("FLAKY", media=[{"url": url}])]})

        assert status["failures"] == []
        assert status["totals"]["media"] == 1
        (view,) = (await api.product("FLAKY"))["media"]
        assert view["sha256"] == sha256(server.png("/flaky.png"))
        assert server.requests("/flaky.png") == 2

    async def test_server_error_after_every_retry_fails(
        self, api: Api, server: MediaServer, settings: Settings
    ) -> None:
        url = server.serve("/down.png", Reply(503, b"down", "text/plain"))

        status = await run_import(api, {"products": [product("DOWN", media=[{"url": url}])]})

        detail = single_media_failure(status, "MEDIA_DOWNLOAD_FAILED", url)
        assert status["totals"]["product"] == status["totals"]["media"] == 0
        assert "HTTP 503" in detail["message"]
        assert server.requests("/down.png") == settings.media_download_retries + 1
        assert await products_numbered(api, "DOWN") == []

    async def test_redirect_to_a_refused_address_is_forbidden(self, api: Api, server: MediaServer) -> None:
        # 127.0.0.2 is loopback and not listed as allowed: the download must stop before connecting.
        target = f"http://127.0.0.2:{server.port}/x"
        url = server.serve("/elsewhere.png", Reply(302, content_type=None, headers={"Location": target}))

        status = await run_import(api, {"products": [product("SNEAKY", media=[{"url": url}])]})

        single_media_failure(status, "MEDIA_URL_FORBIDDEN", url)
        assert status["totals"]["product"] == status["totals"]["media"] == 0
        # Refused, not retried.
        assert server.requests("/elsewhere.png") == 1
        assert await products_numbered(api, "SNEAKY") == []
        assert await media_at(api, url) == []

    @pytest.mark.parametrize("location", ["http://127.0.0.1:99999/x.png", "http://0177.0.0.1:{port}/x.png"])
    async def test_a_redirect_the_client_cannot_follow_fails_only_its_product(
        self, api: Api, server: MediaServer, location: str
    ) -> None:
        target = location.format(port=server.port)
        url = server.serve("/odd.png", Reply(302, content_type=None, headers={"Location": target}))
        fine = server.image("/fine.png")

        status = await run_import(
            api,
            {"products": [product("ODD", media=[{"url": url}]), product("FINE", media=[{"url": fine}])]},
        )

        assert status["status"] == "done"
        assert [failure["path"] for failure in status["failures"]] == ["products.0"]
        assert status["totals"]["product"] == status["totals"]["media"] == 1
        assert await products_numbered(api, "ODD") == []
        assert len((await api.product("FINE"))["media"]) == 1

    async def test_html_served_as_an_image_is_refused(
        self, api: Api, server: MediaServer, media_dir: Path
    ) -> None:
        page = f"<!doctype html><html><body>{server.salt}</body></html>".encode()
        url = server.serve("/disguised.png", Reply(body=page, content_type="image/png"))

        status = await run_import(api, {"products": [product("HTML", media=[{"url": url}])]})

        single_media_failure(status, "MEDIA_TYPE_NOT_ALLOWED", url)
        assert status["totals"]["product"] == status["totals"]["media"] == 0
        assert await products_numbered(api, "HTML") == []
        assert stored(media_dir, sha256(page)) == []

    @pytest.mark.parametrize("declared", [True, False], ids=["content-length", "no-content-length"])
    async def test_file_over_the_size_limit_is_refused(
        self, api: Api, server: MediaServer, settings: Settings, media_dir: Path, declared: bool
    ) -> None:
        big = server.png("/big.png", side=40)
        assert len(big) > 1000
        url = server.serve("/big.png", Reply(body=big, framing="length" if declared else "close"))
        small = server.image("/small.png")

        async with services_with(settings, media_max_bytes=1000) as services:
            status = await run_import(
                api,
                {
                    "products": [
                        product("BIG", media=[{"url": url}]),
                        product("SMALL", media=[{"url": small}]),
                    ]
                },
                services,
            )

        detail = single_media_failure(status, "MEDIA_TOO_LARGE", url)
        assert "1000" in detail["message"]
        assert status["totals"]["product"] == status["totals"]["media"] == 1
        assert await products_numbered(api, "BIG") == []
        assert (await api.product("SMALL"))["media"][0]["size"] == len(server.png("/small.png"))
        assert stored(media_dir, sha256(big)) == []
        assert partial_downloads(media_dir) == []


class TestMediaFailureSkip:
    """``mediaFailure: "skip"``: a media that cannot be had is left out with a warning, and the record it
    is nested in is written without it."""

    async def test_product_is_written_without_the_media_that_failed(
        self, api: Api, server: MediaServer, media_dir: Path
    ) -> None:
        kept = server.image("/kept.png")
        missing = server.url("/missing.png")
        page = f"<!doctype html><html><body>{server.salt}</body></html>".encode()
        html = server.serve("/page.png", Reply(body=page, content_type="image/png"))
        import_id = await api.start(mediaFailure="skip")
        pushed = await api.push(
            import_id,
            {
                "products": [
                    product("PARTLY", media=[{"url": missing}, {"url": kept}, {"url": html}]),
                    product("PLAIN"),
                ]
            },
        )
        assert not pushed["containsErrors"]

        status = await api.commit_and_run(import_id)

        assert status["status"] == "done"
        assert status["totals"] == {
            "product": 2,
            "media": 1,
            "category": 0,
            "tax": 1,
            "total": 4,
            "failures": 0,
        }
        (failure,) = status["failures"]
        assert (failure["entity"], failure["id"], failure["path"]) == (
            "product",
            pushed["records"][0]["id"],
            "products.0",
        )
        assert [{k: v for k, v in d.items() if k != "message"} for d in failure["details"]] == [
            {
                "severity": "warning",
                "severityCode": 4,
                "code": code,
                "entity": "media",
                "path": path,
            }
            for code, path in (
                ("MEDIA_DOWNLOAD_FAILED", "products.0.media.0"),
                ("MEDIA_TYPE_NOT_ALLOWED", "products.0.media.2"),
            )
        ]
        assert missing in failure["details"][0]["message"]
        assert "HTTP 404" in failure["details"][0]["message"]
        # Nothing failed, so nothing is listed at error severity.
        assert (await get_ok(api, f"/api/import/{import_id}/failures", minSeverity="error"))["items"] == []
        (view,) = (await api.product("PARTLY"))["media"]
        assert view["sourceUrl"] == kept
        assert len(stored(media_dir, view["sha256"])) == 1
        assert await media_at(api, missing) == await media_at(api, html) == []

    async def test_a_root_media_record_that_cannot_be_downloaded_is_skipped_with_a_warning(
        self, api: Api, server: MediaServer
    ) -> None:
        missing = server.url("/gone.png")
        fine = server.image("/fine.png")
        import_id = await api.start(mediaFailure="skip")
        pushed = await api.push(import_id, {"media": [{"url": missing}, {"url": fine}]})
        assert not pushed["containsErrors"]

        status = await api.commit_and_run(import_id)

        assert status["totals"]["media"] == 1
        assert status["totals"]["failures"] == 0
        (failure,) = status["failures"]
        assert failure["path"] == "media.0"
        assert codes(failure["details"]) == ["MEDIA_DOWNLOAD_FAILED"]
        assert failure["details"][0]["severity"] == "warning"
        assert await media_at(api, missing) == []
        assert len(await media_at(api, fine)) == 1

    async def test_the_default_still_fails_the_product(self, api: Api, server: MediaServer) -> None:
        url = server.url("/absent.png")
        status = await api.import_records({"products": [product("STRICT", media=[{"url": url}])]})

        single_media_failure(status, "MEDIA_DOWNLOAD_FAILED", url)
        assert await products_numbered(api, "STRICT") == []


class TestUrlUploadDisabled:
    async def test_products_are_imported_without_their_media_with_a_warning(
        self, api: Api, server: MediaServer, settings: Settings
    ) -> None:
        front = server.image("/front.png")
        back = server.image("/back.png")
        body = {
            "products": [
                product("PLAIN"),
                product("PICTURED", media=[{"url": front}, {"url": back, "filename": "back.png"}]),
            ]
        }

        async with services_with(settings, media_url_upload_enabled=False) as services:
            import_id = await api.start()
            pushed = await api.push(import_id, body)
            await api.commit(import_id)
            status = await api.run(import_id, media=services)

        assert status["status"] == "done"
        assert status["totals"] == {
            "product": 2,
            "media": 0,
            "category": 0,
            "tax": 1,
            "total": 3,
            "failures": 0,
        }
        (failure,) = status["failures"]
        assert {k: v for k, v in failure.items() if k != "details"} == {
            "entity": "product",
            "id": pushed["records"][1]["id"],
            "path": "products.1",
            "batch": 1,
        }
        assert [{k: v for k, v in d.items() if k != "message"} for d in failure["details"]] == [
            {
                "severity": "warning",
                "severityCode": 4,
                "code": "MEDIA_URL_UPLOAD_DISABLED",
                "entity": "media",
                "path": f"products.1.media.{index}",
            }
            for index in range(2)
        ]
        assert [url in d["message"] for d, url in zip(failure["details"], (front, back), strict=True)] == [
            True,
            True,
        ]
        assert (await get_ok(api, f"/api/import/{import_id}/failures", minSeverity="error"))["items"] == []
        pictured = await api.product("PICTURED")
        assert pictured["media"] == []
        assert (await api.product("PLAIN"))["media"] == []
        assert await media_at(api, front) == await media_at(api, back) == []
        assert server.requests("/front.png") == server.requests("/back.png") == 0

        # Once downloads are on again, the same media can be imported.
        later = await api.import_records(
            {"products": [{"productNumber": "PICTURED", "media": [{"url": front}]}]}
        )

        assert later["failures"] == []
        (view,) = (await api.product("PICTURED"))["media"]
        assert view["sha256"] == sha256(server.png("/front.png"))


class TestRootMediaRecords:
    async def test_root_media_record_creates_and_downloads(self, api: Api, server: MediaServer) -> None:
        url = server.image("/lone.png")

        status = await api.import_records(
            {"media": [{"url": url, "title": "Lone", "filename": "lone-1.png"}]}
        )

        assert status["totals"]["media"] == 1
        (view,) = await media_at(api, url)
        assert (view["title"], view["filename"], view["url"]) == (
            "Lone",
            "lone-1.png",
            f"/media/{view['id']}/lone-1.png",
        )
        assert (await fetch_file(api, view["url"])).content == server.png("/lone.png")

    async def test_root_media_record_updates_title_and_alt_without_downloading_again(
        self, api: Api, server: MediaServer
    ) -> None:
        url = server.image("/root.png")
        await api.import_records(
            {"products": [product("TITLED", media=[{"url": url, "title": "Old", "alt": "Old alt"}])]}
        )
        (before,) = (await api.product("TITLED"))["media"]

        import_id = await api.start()
        pushed = await api.push(import_id, {"media": [{"url": url, "title": "New", "alt": "New alt"}]})
        assert [(r["id"], r["action"]) for r in pushed["records"]] == [(before["id"], "update")]
        status = await api.commit_and_run(import_id)
        by_id = await api.import_records({"media": [{"id": before["id"], "title": "Newer"}]})

        assert status["failures"] == by_id["failures"] == []
        assert status["totals"]["media"] == by_id["totals"]["media"] == 1
        (after,) = (await api.product("TITLED"))["media"]
        assert after == {**before, "title": "Newer", "alt": "New alt"}
        assert await get_ok(api, f"/api/catalog/media/{before['id']}") == {
            **{k: v for k, v in after.items() if k != "position"},
            "folder": None,
        }
        assert server.requests("/root.png") == 1


class TestFolders:
    async def test_folder_path_is_created_once_with_its_parents(self, api: Api, server: MediaServer) -> None:
        front, side = server.image("/f/front.png"), server.image("/f/side.png")
        status = await api.import_records(
            {
                "media": [{"url": front, "folder": {"path": ["Products", "Shoes"]}}],
                "products": [
                    product("FOLDED", media=[{"url": side, "folder": {"path": ["Products", "Shoes"]}}])
                ],
            }
        )

        assert status["failures"] == []
        ((front_view,), (side_view,)) = [await media_at(api, url) for url in (front, side)]
        assert front_view["folder"] == side_view["folder"]
        assert front_view["folder"]["path"] == ["Products", "Shoes"]
        async with api.session_factory() as session:
            folders = (
                await session.execute(
                    select(MediaFolder.path, MediaFolder.parent_id, MediaFolder.id).order_by(MediaFolder.path)
                )
            ).all()
        assert [(path, parent) for path, parent, _id in folders] == [
            (["Products"], None),
            (["Products", "Shoes"], folders[0].id),
        ]

    async def test_existing_folder_by_id_and_move_out_of_it(self, api: Api, server: MediaServer) -> None:
        first, second = server.image("/f/1.png"), server.image("/f/2.png")
        await api.import_records({"media": [{"url": first, "folder": {"path": ["Brand"]}}]})
        ((view,),) = [await media_at(api, first)]
        folder_id = view["folder"]["id"]

        status = await api.import_records(
            {
                "media": [
                    {"url": second, "folder": {"id": folder_id}},
                    {"url": first, "folder": None},
                ]
            }
        )

        assert status["failures"] == []
        ((moved,), (second_view,)) = [await media_at(api, url) for url in (first, second)]
        assert moved["folder"] is None
        assert second_view["folder"] == {"id": folder_id, "path": ["Brand"]}
        assert server.requests("/f/1.png") == 1

    async def test_unknown_folder_id_rejects_the_media_and_its_product(
        self, api: Api, server: MediaServer
    ) -> None:
        unknown = "018a6b222b5a734d956fb03dda765bf8"
        import_id = await api.start()
        pushed = await api.push(
            import_id,
            {
                "media": [{"url": server.image("/f/x.png"), "folder": {"id": unknown}}],
                "products": [
                    product("NOFOLDER", media=[{"url": server.image("/f/y.png"), "folder": {"id": unknown}}]),
                    product("FINE"),
                ],
            },
        )

        assert pushed["containsErrors"]
        rejected = [
            (record["path"], [(e["code"], e["path"], e["message"]) for e in record["errors"]])
            for record in pushed["records"]
            if record["errors"]
        ]
        message = f"Folder ID {unknown} not found"
        assert rejected == [
            ("media.0", [("FOLDER_NOT_FOUND", "media.0.folder", message)]),
            ("products.0", [("FOLDER_NOT_FOUND", "products.0.media.0.folder", message)]),
        ]

    async def test_folder_reference_needs_id_or_path(self, api: Api) -> None:
        import_id = await api.start()
        response = await api.post(
            f"/api/import/{import_id}/record",
            json={"media": [{"url": "http://127.0.0.1:9/a.png", "folder": {}}]},
        )

        assert response.status_code == 200, response.text
        (record,) = response.json()["records"]
        assert [(e["code"], e["path"]) for e in record["errors"]] == [("INVALID_FIELD", "media.0.folder")]

    async def test_concurrent_batches_share_one_folder(self, api: Api, server: MediaServer) -> None:
        urls = [server.image(f"/f/many-{n}.png") for n in range(30)]
        import_id = await api.start()
        body = {"media": [{"url": url, "folder": {"path": ["Bulk", "Images"]}} for url in urls]}
        assert not (await api.push(import_id, body))["containsErrors"]
        await api.commit(import_id)

        await asyncio.gather(*(api.runner(import_id, batch_size=7).run() for _ in range(3)))

        status = await api.status(import_id)
        assert (status["status"], status["failures"]) == ("done", [])
        folders = {(await media_at(api, url))[0]["folder"]["id"] for url in urls}
        assert len(folders) == 1


class TestDeleteAndUnassign:
    async def test_deleted_media_loses_its_links_and_its_file(
        self, api: Api, server: MediaServer, media_dir: Path
    ) -> None:
        url = server.image("/gone.png")
        kept_url = server.image("/kept.png")
        await api.import_records({"products": [product("PIC", media=[{"url": url}, {"url": kept_url}])]})
        gone, kept = (await api.product("PIC"))["media"]
        assert (await fetch_file(api, gone["url"])).status_code == 200
        assert len(stored(media_dir, gone["sha256"])) == 1

        import_id = await api.start()
        await api.push(import_id, {"media": [{"url": url}]}, "delete")
        status = await api.commit_and_run(import_id)

        assert status["failures"] == []
        assert [m["id"] for m in (await api.product("PIC"))["media"]] == [kept["id"]]
        assert (await api.get(f"/api/catalog/media/{gone['id']}")).status_code == 404
        assert await media_at(api, url) == []
        response = await fetch_file(api, gone["url"])
        assert response.status_code == 404
        assert response.json()["code"] == "MEDIA_NOT_FOUND"
        assert stored(media_dir, gone["sha256"]) == []
        assert (await fetch_file(api, kept["url"])).content == server.png("/kept.png")

    async def test_deleted_media_keeps_a_file_another_media_uses(
        self, api: Api, server: MediaServer, media_dir: Path
    ) -> None:
        same = server.png("/same.png")
        first = server.serve("/first.png", Reply(body=same))
        second = server.serve("/second.png", Reply(body=same))
        await api.import_records({"products": [product("TWINS", media=[{"url": first}, {"url": second}])]})
        one, other = (await api.product("TWINS"))["media"]
        assert one["id"] != other["id"]
        assert one["sha256"] == other["sha256"] == sha256(same)

        import_id = await api.start()
        await api.push(import_id, {"media": [one["id"]]}, "delete")
        status = await api.commit_and_run(import_id)

        assert status["failures"] == []
        assert [m["id"] for m in (await api.product("TWINS"))["media"]] == [other["id"]]
        assert (await fetch_file(api, one["url"])).status_code == 404
        response = await fetch_file(api, other["url"])
        assert response.status_code == 200
        assert response.content == same
        assert len(stored(media_dir, sha256(same))) == 1

    async def test_unassign_by_filename_and_by_url_keeps_the_media(
        self, api: Api, server: MediaServer
    ) -> None:
        front = server.image("/front.png")
        back = server.image("/back.png")
        top = server.image("/top.png")
        await api.import_records(
            {
                "products": [
                    product(
                        "LINKS",
                        media=[{"url": front, "filename": "front-view.png"}, {"url": back}, {"url": top}],
                    )
                ]
            }
        )
        before = (await api.product("LINKS"))["media"]

        import_id = await api.start()
        pushed = await api.push(
            import_id,
            {
                "products": [
                    {"productNumber": "LINKS", "media": [{"filename": "front-view.png"}, {"url": back}]}
                ]
            },
            "unassign",
        )
        assert [(r["action"], r["errors"]) for r in pushed["records"]] == [("unassign", [])]
        status = await api.commit_and_run(import_id)

        assert status["failures"] == []
        assert [m["sourceUrl"] for m in (await api.product("LINKS"))["media"]] == [top]
        # Only the links go: the media and their files stay.
        for view in before[:2]:
            assert [m["id"] for m in await media_at(api, view["sourceUrl"])] == [view["id"]]
            assert (await fetch_file(api, view["url"])).status_code == 200


def pid_not_running() -> int:
    """The pid of a process that has ended."""
    while True:
        process = subprocess.Popen([sys.executable, "-c", ""])
        process.wait()
        try:
            os.kill(process.pid, 0)
        except ProcessLookupError:
            return process.pid


async def eventually(condition: Any, seconds: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


class TestProgressWhileDownloading:
    async def test_media_settle_batch_by_batch_while_a_download_is_still_running(
        self, api: Api, server: MediaServer
    ) -> None:
        # 40 products with a picture each: two batches of media; the last picture stalls until released.
        count, stalled = 40, 39
        for n in range(count):
            reply = Reply(body=server.png(f"/{n}.png"), stall_after=10 if n == stalled else None)
            server.serve(f"/{n}.png", reply)
        import_id = await api.start()
        products = [product(f"P-{n}", media=[{"url": server.url(f"/{n}.png")}]) for n in range(count)]
        await api.push(import_id, {"products": products})
        await api.commit(import_id)

        task = asyncio.create_task(api.runner(import_id).run())
        try:
            progress: dict[str, Any] = {}

            async def first_batch_settled() -> bool:
                status = await api.status(import_id)
                progress.update(status["progress"], media=status["totals"]["media"])
                return bool(status["totals"]["media"])

            deadline = asyncio.get_running_loop().time() + 10
            while not await first_batch_settled():
                assert asyncio.get_running_loop().time() < deadline, "no media settled while one stalls"
                await asyncio.sleep(0.02)
            # The first batch's media count (beside the products' tax) while the other batch still waits for
            # its stalled download.
            assert server.stalling.is_set() and not task.done()
            records = 1 + 2 * count
            assert progress == {"total": records, "processed": 1 + 20, "level": 1, "levels": 2, "media": 20}
        finally:
            server.release()
        await asyncio.wait_for(task, 30)
        status = await api.status(import_id)
        assert status["status"] == "done"
        assert status["failures"] == []
        assert status["totals"]["media"] == status["totals"]["product"] == count


class TestInterruptedDownload:
    async def test_killed_download_leaves_no_partial_file(
        self, api: Api, server: MediaServer, settings: Settings, media_dir: Path
    ) -> None:
        # Large enough to be spooled to a temporary file before the server stalls.
        body = server.png("/slow.png", side=700)
        assert len(body) > IN_MEMORY_BYTES + 100_000
        url = server.serve("/slow.png", Reply(body=body, stall_after=IN_MEMORY_BYTES + 50_000))
        import_id = await api.start()
        await api.push(import_id, {"products": [product("SLOW", media=[{"url": url}])]})
        await api.commit(import_id)

        task = asyncio.create_task(api.runner(import_id).run())
        await eventually(lambda: server.stalling.is_set() and partial_downloads(media_dir))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (await api.status(import_id))["status"] == "importing"
        assert await products_numbered(api, "SLOW") == []

        # The worker's process is gone: its temporary file is left behind until the next start.
        stale = media_dir / "tmp" / f"{pid_not_running()}-0123456789abcdef.part"
        stale.write_bytes(body[:100])
        server.serve("/slow.png", Reply(body=body))
        server.release()
        async with services_with(settings) as restarted:
            assert not stale.exists()
            status = await asyncio.wait_for(api.run(import_id, media=restarted), 30)

        assert status["status"] == "done"
        assert status["failures"] == []
        assert status["totals"]["media"] == status["totals"]["product"] == 1
        (view,) = (await api.product("SLOW"))["media"]
        assert (view["size"], view["sha256"]) == (len(body), sha256(body))
        response = await fetch_file(api, view["url"])
        assert response.content == body
        assert partial_downloads(media_dir) == []
        assert server.requests("/slow.png") == 2


class VanishingStorage:
    """Local storage where the files of ``vanish`` disappear right after they are first kept, as if another
    runner's clean-up had removed them between the download and the batch taking them into use."""

    def __init__(self, inner: LocalMediaStorage, vanish: set[str]) -> None:
        self.inner = inner
        self.vanish = vanish

    def temporary_file(self) -> contextlib.AbstractContextManager[Path]:
        return self.inner.temporary_file()

    def keep(self, temporary: Path, sha256: str) -> None:
        self.inner.keep(temporary, sha256)
        self._vanish(sha256)

    def store(self, content: bytes, sha256: str) -> None:
        self.inner.store(content, sha256)
        self._vanish(sha256)

    def _vanish(self, sha256: str) -> None:
        if sha256 in self.vanish:
            self.vanish.discard(sha256)
            self.inner.delete(sha256)

    def path(self, sha256: str) -> Path | None:
        return self.inner.path(sha256)

    def delete(self, sha256: str) -> None:
        self.inner.delete(sha256)

    def remove_stale_temporary_files(self) -> int:
        return self.inner.remove_stale_temporary_files()


@contextlib.asynccontextmanager
async def vanishing_services(settings: Settings, *vanish: bytes) -> AsyncIterator[MediaServices]:
    async with services_with(settings) as services:
        assert services.downloader is not None
        storage = VanishingStorage(media_storage(settings), {sha256(data) for data in vanish})
        vanishing = MediaServices(storage, Downloader(storage, services.downloader.options))
        try:
            yield vanishing
        finally:
            await vanishing.aclose()


class TestFileRemovedBeforeUse:
    async def test_file_is_fetched_again(self, api: Api, server: MediaServer, settings: Settings) -> None:
        url = server.image("/again.png")

        async with vanishing_services(settings, server.png("/again.png")) as services:
            status = await run_import(api, {"products": [product("AGAIN", media=[{"url": url}])]}, services)

        assert status["failures"] == []
        (view,) = (await api.product("AGAIN"))["media"]
        assert (await fetch_file(api, view["url"])).content == server.png("/again.png")
        assert server.requests("/again.png") == 2

    async def test_file_that_changed_meanwhile_fails_only_its_product(
        self, api: Api, server: MediaServer, settings: Settings, media_dir: Path
    ) -> None:
        url = server.serve(
            "/changing.png", Reply(body=server.png("/changing.png")), Reply(body=server.png("/changed.png"))
        )
        fine = server.image("/fine.png")

        async with vanishing_services(settings, server.png("/changing.png")) as services:
            status = await run_import(
                api,
                {
                    "products": [
                        product("CHANGING", media=[{"url": url}]),
                        product("FINE", media=[{"url": fine}]),
                    ]
                },
                services,
            )

        assert status["status"] == "done"
        single_media_failure(status, "MEDIA_DOWNLOAD_FAILED", url)
        assert await products_numbered(api, "CHANGING") == []
        assert await media_at(api, url) == []
        assert "changed" in failure_at(status, "products.0")["details"][0]["message"]
        # Neither version of the file stays: no media uses them.
        assert stored(media_dir, sha256(server.png("/changing.png"))) == []
        assert stored(media_dir, sha256(server.png("/changed.png"))) == []
        (view,) = (await api.product("FINE"))["media"]
        assert (await fetch_file(api, view["url"])).content == server.png("/fine.png")
