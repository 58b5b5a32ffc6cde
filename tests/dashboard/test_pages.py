"""The dashboard's server side over plain HTTP: signing in and out, the session cookie, CSRF refusals,
tenancy, the pages, the JSON they poll and the failure downloads."""

import csv
import io
import re
from typing import Any

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog_import.app import create_app
from catalog_import.auth.secrets import hash_secret
from catalog_import.config import Settings
from catalog_import.dashboard.sessions import COOKIE_NAME
from catalog_import.media.services import MediaServices
from catalog_import.models import Integration
from tests.dashboard.helpers import import_with_failures, sign_in, signed_in
from tests.factories import Api, assert_error, product


def set_cookie_header(response: httpx.Response) -> str:
    headers = [value for value in response.headers.get_list("set-cookie") if value.startswith(COOKIE_NAME)]
    assert len(headers) == 1, response.headers
    return headers[0]


def cookie_attributes(header: str) -> dict[str, str]:
    attributes = {}
    for part in header.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        attributes[name.lower()] = value
    return attributes


async def staged_import(api: Api, name: str) -> str:
    import_id = await api.start(name)
    await api.push(import_id, {"products": [product(f"{name}-1"), product(f"{name}-2")]})
    return import_id


class TestSignIn:
    async def test_the_right_secret_opens_a_session(self, web: httpx.AsyncClient, api: Api) -> None:
        response = await sign_in(web, api.client_id, api.client_secret)

        assert response.status_code == 303
        assert response.headers["location"] == "/dashboard"
        page = await web.get("/dashboard")
        assert page.status_code == 200
        assert "Signed in as <strong>main</strong>" in page.text

    async def test_the_session_cookie_is_signed_httponly_samesite_and_expires(
        self, web: httpx.AsyncClient, api: Api
    ) -> None:
        response = await sign_in(web, api.client_id, api.client_secret)

        attributes = cookie_attributes(set_cookie_header(response))
        assert "httponly" in attributes
        assert attributes["samesite"].lower() == "lax"
        assert attributes["path"] == "/dashboard"
        assert 0 < int(attributes["max-age"]) <= 8 * 3600
        assert "secure" not in attributes  # plain http

    async def test_over_https_the_cookie_is_secure(self, dashboard_app: Any, api: Api) -> None:
        transport = httpx.ASGITransport(app=dashboard_app)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
            response = await sign_in(client, api.client_id, api.client_secret)

        assert response.status_code == 303
        assert "secure" in cookie_attributes(set_cookie_header(response))

    async def test_a_wrong_secret_is_refused(self, web: httpx.AsyncClient, api: Api) -> None:
        response = await sign_in(web, api.client_id, "not-the-secret")

        assert response.status_code == 401
        assert response.headers["content-type"].startswith("text/html")
        assert "Unknown client id or wrong secret." in response.text
        assert f'value="{api.client_id}"' in response.text  # the client id stays filled in
        assert (await web.get("/dashboard")).status_code == 303

    async def test_an_unknown_client_id_is_refused_alike(self, web: httpx.AsyncClient) -> None:
        response = await sign_in(web, "ci_nobody", "whatever")

        assert response.status_code == 401
        assert "Unknown client id or wrong secret." in response.text

    async def test_wrong_secrets_over_the_limit_are_slowed_down(self, settings: Settings, api: Api) -> None:
        app = create_app(settings.model_copy(update={"sign_in_failure_limit": "2/minute"}))
        transport = httpx.ASGITransport(app=app, client=("127.0.0.12", 50000))
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
        ):
            wrong = [await sign_in(client, api.client_id, f"guess-{n}") for n in range(2)]
            right = await sign_in(client, api.client_id, api.client_secret)

        assert [response.status_code for response in wrong] == [401, 401]
        assert right.status_code == 429
        assert "Too many wrong secrets for this client; retry in" in right.text

    async def test_pages_without_a_session_lead_to_the_sign_in_form(self, web: httpx.AsyncClient) -> None:
        home = await web.get("/dashboard")
        page = await web.get("/dashboard/imports/018a6b222b5a734d956fb03dda765bf8?severity=error")

        assert home.status_code == 303
        assert home.headers["location"] == "/dashboard/login"
        assert page.status_code == 303
        assert page.headers["location"] == (
            "/dashboard/login?next=%2Fdashboard%2Fimports%2F018a6b222b5a734d956fb03dda765bf8%3Fseverity%3Derror"
        )

    async def test_after_signing_in_the_visitor_gets_the_page_asked_for(
        self, web: httpx.AsyncClient, api: Api
    ) -> None:
        import_id = await staged_import(api, "wanted")
        wanted = f"/dashboard/imports/{import_id}"
        response = await sign_in(web, api.client_id, api.client_secret, next_page=wanted)

        assert response.headers["location"] == f"/dashboard/imports/{import_id}"

    async def test_never_to_another_site(self, web: httpx.AsyncClient, api: Api) -> None:
        response = await sign_in(web, api.client_id, api.client_secret, next_page="//evil.example/dashboard")

        assert response.headers["location"] == "/dashboard"

    async def test_nor_out_of_the_dashboard_by_dot_segments(self, web: httpx.AsyncClient, api: Api) -> None:
        response = await sign_in(web, api.client_id, api.client_secret, next_page="/dashboard/../api/import")

        assert response.headers["location"] == "/dashboard"

    async def test_the_json_needs_a_session(self, web: httpx.AsyncClient) -> None:
        assert_error(await web.get("/dashboard/api/imports"), 401, "UNAUTHORIZED")

    async def test_a_session_cookie_is_no_bearer_token(self, web: httpx.AsyncClient, api: Api) -> None:
        await signed_in(web, api)
        cookie = web.cookies[COOKIE_NAME]

        response = await web.get("/api/import", headers={"Authorization": f"Bearer {cookie}"})

        assert_error(response, 401, "UNAUTHORIZED")

    async def test_a_bearer_token_is_no_session(self, web: httpx.AsyncClient, api: Api) -> None:
        token = api.headers["Authorization"].removeprefix("Bearer ")

        response = await web.get("/dashboard", headers={"Cookie": f"{COOKIE_NAME}={token}"})

        assert response.status_code == 303

    async def test_a_tampered_cookie_is_no_session(self, web: httpx.AsyncClient, api: Api) -> None:
        await signed_in(web, api)
        cookie = web.cookies[COOKIE_NAME]
        web.cookies.clear()
        header, claims, signature = cookie.split(".")
        forged = f"{header}.{claims}.{signature[::-1]}"

        valid = await web.get("/dashboard", headers={"Cookie": f"{COOKIE_NAME}={cookie}"})
        tampered = await web.get("/dashboard", headers={"Cookie": f"{COOKIE_NAME}={forged}"})

        assert valid.status_code == 200
        assert tampered.status_code == 303

    async def test_a_new_secret_ends_the_sessions_of_the_old_one(
        self, web: httpx.AsyncClient, api: Api, session_factory: async_sessionmaker[AsyncSession]
    ) -> None:
        await signed_in(web, api)
        async with session_factory() as session, session.begin():
            await session.execute(
                update(Integration)
                .where(Integration.client_id == api.client_id)
                .values(secret_hash=hash_secret("a-new-secret"))
            )

        assert (await web.get("/dashboard")).status_code == 303

    async def test_signing_out_ends_the_session(self, web: httpx.AsyncClient, api: Api) -> None:
        token = await signed_in(web, api)

        response = await web.post(
            "/dashboard/logout", data={"csrf_token": token}, headers={"Origin": "http://testserver"}
        )

        assert response.status_code == 303
        assert response.headers["location"] == "/dashboard/login?notice=signed-out"
        assert "max-age=0" in set_cookie_header(response).lower()
        assert (await web.get("/dashboard")).status_code == 303


class TestCsrf:
    async def test_a_sign_out_without_the_token_is_refused(self, web: httpx.AsyncClient, api: Api) -> None:
        await signed_in(web, api)

        response = await web.post("/dashboard/logout", data={}, headers={"Origin": "http://testserver"})

        assert response.status_code == 403
        assert (await web.get("/dashboard")).status_code == 200

    async def test_a_sign_in_posted_from_another_site_is_refused(
        self, web: httpx.AsyncClient, api: Api
    ) -> None:
        response = await sign_in(web, api.client_id, api.client_secret, origin="https://evil.example")

        assert response.status_code == 403
        assert (await web.get("/dashboard")).status_code == 303

    async def test_a_sign_in_without_the_form_token_is_refused(
        self, web: httpx.AsyncClient, api: Api
    ) -> None:
        response = await web.post(
            "/dashboard/login",
            data={"client_id": api.client_id, "client_secret": api.client_secret},
            headers={"Origin": "http://testserver"},
        )

        assert response.status_code == 403
        assert (await web.get("/dashboard")).status_code == 303

    async def test_a_cancel_posted_from_another_site_is_refused(
        self, web: httpx.AsyncClient, api: Api
    ) -> None:
        import_id = await staged_import(api, "kept")
        token = await signed_in(web, api)

        response = await web.post(
            f"/dashboard/imports/{import_id}/cancel",
            data={"csrf_token": token},
            headers={"Origin": "https://evil.example"},
        )

        assert response.status_code == 403
        assert response.headers["content-type"].startswith("text/html")
        assert "Request refused" in response.text
        assert (await api.status(import_id))["status"] == "started"

    async def test_a_cancel_a_browser_marks_cross_site_is_refused(
        self, web: httpx.AsyncClient, api: Api
    ) -> None:
        import_id = await staged_import(api, "kept")
        token = await signed_in(web, api)

        response = await web.post(
            f"/dashboard/imports/{import_id}/cancel",
            data={"csrf_token": token},
            headers={"Sec-Fetch-Site": "cross-site"},
        )

        assert response.status_code == 403
        assert (await api.status(import_id))["status"] == "started"

    async def test_a_cancel_without_the_token_is_refused(self, web: httpx.AsyncClient, api: Api) -> None:
        import_id = await staged_import(api, "kept")
        await signed_in(web, api)

        response = await web.post(
            f"/dashboard/imports/{import_id}/cancel", data={}, headers={"Origin": "http://testserver"}
        )
        wrong = await web.post(
            f"/dashboard/imports/{import_id}/cancel",
            data={"csrf_token": "guessed"},
            headers={"Origin": "http://testserver"},
        )

        assert response.status_code == 403
        assert wrong.status_code == 403
        assert (await api.status(import_id))["status"] == "started"

    async def test_a_cancel_with_the_token_cancels(self, web: httpx.AsyncClient, api: Api) -> None:
        import_id = await staged_import(api, "dropped")
        token = await signed_in(web, api)

        response = await web.post(
            f"/dashboard/imports/{import_id}/cancel",
            data={"csrf_token": token},
            headers={"Origin": "http://testserver"},
        )

        assert response.status_code == 303
        assert response.headers["location"] == f"/dashboard/imports/{import_id}?notice=cancelled"
        status = await api.status(import_id)
        assert status["status"] == "cancelled"
        assert status["progress"]["total"] == 0
        page = await web.get(response.headers["location"])
        assert "The import was cancelled" in page.text

    async def test_the_token_may_come_in_a_header(self, web: httpx.AsyncClient, api: Api) -> None:
        import_id = await staged_import(api, "dropped")
        token = await signed_in(web, api)

        response = await web.post(
            f"/dashboard/imports/{import_id}/cancel",
            headers={"X-CSRF-Token": token, "Origin": "http://testserver"},
        )

        assert response.status_code == 303
        assert (await api.status(import_id))["status"] == "cancelled"

    async def test_a_committed_import_cannot_be_cancelled(self, web: httpx.AsyncClient, api: Api) -> None:
        import_id = await staged_import(api, "committed")
        await api.commit(import_id)
        token = await signed_in(web, api)

        response = await web.post(
            f"/dashboard/imports/{import_id}/cancel",
            data={"csrf_token": token},
            headers={"Origin": "http://testserver"},
        )

        assert response.status_code == 409
        assert "Already committed" in response.text
        assert (await api.status(import_id))["status"] == "importing"


class TestTenancy:
    async def test_an_integration_sees_only_its_own_imports(
        self, web: httpx.AsyncClient, api: Api, other_api: Api
    ) -> None:
        mine = await staged_import(api, "mine")
        theirs = await staged_import(other_api, "theirs")
        token = await signed_in(web, api)

        page = await web.get("/dashboard")
        listed = (await web.get("/dashboard/api/imports")).json()
        their_page = await web.get(f"/dashboard/imports/{theirs}")
        their_json = await web.get(f"/dashboard/api/imports/{theirs}")
        their_download = await web.get(f"/dashboard/imports/{theirs}/failures.csv")
        their_json_download = await web.get(f"/dashboard/imports/{theirs}/failures.json")
        their_confirmation = await web.get(f"/dashboard/imports/{theirs}/cancel")
        their_cancel = await web.post(
            f"/dashboard/imports/{theirs}/cancel",
            data={"csrf_token": token},
            headers={"Origin": "http://testserver"},
        )

        assert "mine" in page.text
        assert "theirs" not in page.text
        assert [item["id"] for item in listed["items"]] == [mine]
        assert their_page.status_code == 404
        assert "Import not found" in their_page.text
        assert_error(their_json, 404, "IMPORT_NOT_FOUND")
        assert their_download.status_code == 404
        assert their_json_download.status_code == 404
        assert their_confirmation.status_code == 404
        assert their_cancel.status_code == 404
        assert (await other_api.status(theirs))["status"] == "started"


class TestPages:
    async def test_the_list_shows_each_imports_figures(
        self, web: httpx.AsyncClient, api: Api, media_off: MediaServices
    ) -> None:
        done = await import_with_failures(api, media_off, name="nightly")
        started = await staged_import(api, "staging")
        await signed_in(web, api)

        page = await web.get("/dashboard")
        data = (await web.get("/dashboard/api/imports")).json()

        assert page.status_code == 200
        assert page.headers["cache-control"] == "no-store"
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        items = {item["id"]: item for item in data["items"]}
        assert [item["id"] for item in data["items"]] == [started, done]
        finished = items[done]
        assert finished["status"] == "done"
        assert finished["processed"] == finished["total"] > 0
        assert finished["percent"] == 100
        assert finished["failures"] == 5  # four products and the category
        assert finished["progressText"] == f"{finished['total']} of {finished['total']} records"
        assert {t["entity"]: t["written"] for t in finished["totals"]}["product"] == 5
        assert items[started]["progressText"] == "2 records staged"
        assert items[started]["cancellable"] is True
        for item in data["items"]:
            assert f'data-id="{item["id"]}"' in page.text

    async def test_an_imports_page_shows_progress_totals_chart_and_failures(
        self, web: httpx.AsyncClient, api: Api, media_off: MediaServices
    ) -> None:
        import_id = await import_with_failures(api, media_off)
        await signed_in(web, api)

        page = await web.get(f"/dashboard/imports/{import_id}")
        data = (await web.get(f"/dashboard/api/imports/{import_id}?chart=true")).json()

        assert page.status_code == 200
        total = data["item"]["total"]
        assert (
            f'<progress max="100" value="100" data-field="percent" aria-label="Progress of the import" '
            f'aria-valuetext="100%, {total} of {total} records, 2 levels">'
        ) in page.text
        assert "<svg" in page.text
        assert "<svg" in data["chartHtml"]
        # The chart's figures count the records of the batches written (those settled when the commit was
        # prepared, such as unresolved references, come before any batch).
        charted = re.findall(r'<tr><td>[^<]*</td><td class="number">([\d,]+)</td>', data["chartHtml"])
        assert 5 <= sum(int(records.replace(",", "")) for records in charted) <= total
        assert data["item"]["status"] == "done"
        assert page.text.count('class="badge severity-error"') >= 5
        assert 'class="badge severity-warning"' in page.text
        assert "CATEGORY_NOT_FOUND" in page.text or "REFERENCE" in page.text
        assert "MEDIA_URL_UPLOAD_DISABLED" in page.text
        assert "Cancel the import" not in page.text.split('data-show-when="started"')[1].split("hidden")[0]

    async def test_an_imports_page_shows_its_latest_validation(
        self, web: httpx.AsyncClient, api: Api
    ) -> None:
        import_id = await api.start(deferReferences=True)
        await api.push(
            import_id, {"products": [product("SHOWN"), product("LOST", categories=[{"path": ["Nowhere"]}])]}
        )
        await signed_in(web, api)
        before = (await web.get(f"/dashboard/api/imports/{import_id}")).json()["item"]

        await api.validate_and_run(import_id)

        page = await web.get(f"/dashboard/imports/{import_id}")
        item = (await web.get(f"/dashboard/api/imports/{import_id}")).json()["item"]
        assert before["validationStatus"] == ""
        assert before["validationText"].startswith("not validated")
        assert (item["validationStatus"], item["validationFailures"]) == ("done", 1)
        assert item["validationText"].startswith("done at ")
        assert item["validationTotalsText"] == "product 1, tax 1"
        assert '<dd data-field="validationTotalsText">product 1, tax 1</dd>' in page.text
        assert item["status"] == "started"

    async def test_failures_are_filtered_and_paged(
        self, web: httpx.AsyncClient, api: Api, media_off: MediaServices
    ) -> None:
        import_id = await import_with_failures(api, media_off, missing_category=7, with_media=3)
        await signed_in(web, api)

        async def rows(query: str) -> list[str]:
            """Every failure's record path over all pages, following the pager's links."""
            paths: list[str] = []
            url: str | None = f"/dashboard/imports/{import_id}?{query}"
            while url:
                page = await web.get(url)
                assert page.status_code == 200, page.text
                section = page.text.split('id="failures"')[1]
                paths += re.findall(r'<span class="entity">\w+</span> <code>([^<]+)</code>', section)
                found = re.search(r'<a href="([^"]+)" rel="next">Next page</a>', section)
                url = found.group(1).replace("&amp;", "&") if found else None
            return paths

        everything = await rows("limit=3")
        errors = await rows("severity=error&limit=2")
        categories = await rows("entity=category&limit=1")
        product_warnings = await rows("entity=product&severity=warning&limit=4")

        assert len(everything) == 11  # 7 products and a category failed, 3 products warned
        assert len(set(everything)) == 11
        assert len(errors) == 8
        assert categories == ["categories.0"]
        assert len(product_warnings) == 10

    async def test_errors_are_friendly_pages(self, web: httpx.AsyncClient, api: Api) -> None:
        await signed_in(web, api)

        unknown = await web.get("/dashboard/imports/018a6b222b5a734d956fb03dda765bf8")
        malformed = await web.get("/dashboard/imports/not-an-id")
        bad_filter = await web.get("/dashboard/imports/018a6b222b5a734d956fb03dda765bf8?limit=0")
        nowhere = await web.get("/dashboard/nowhere")
        slash = await web.get("/dashboard/")

        assert slash.status_code == 308
        assert slash.headers["location"] == "/dashboard"
        for response, status in ((unknown, 404), (malformed, 404), (bad_filter, 400), (nowhere, 404)):
            assert response.status_code == status
            assert response.headers["content-type"].startswith("text/html")
            assert "Back to the imports" in response.text

    async def test_the_static_files_are_served_from_the_package(self, web: httpx.AsyncClient) -> None:
        css = await web.get("/dashboard/static/dashboard.css")
        js = await web.get("/dashboard/static/dashboard.js")
        other = await web.get("/dashboard/static/..%2Fendpoints.py")

        assert css.headers["content-type"].startswith("text/css")
        assert js.headers["content-type"].startswith("text/javascript")
        assert other.status_code == 404

    async def test_the_dashboard_is_not_in_the_openapi_document(self, web: httpx.AsyncClient) -> None:
        document = (await web.get("/api/openapi.json")).json()

        assert not [path for path in document["paths"] if path.startswith("/dashboard")]


class TestDownloads:
    async def test_csv_has_a_row_per_problem(
        self, web: httpx.AsyncClient, api: Api, media_off: MediaServices
    ) -> None:
        import_id = await import_with_failures(api, media_off)
        await signed_in(web, api)
        failures = (await api.get(f"/api/import/{import_id}/failures?limit=1000")).json()["items"]

        response = await web.get(f"/dashboard/imports/{import_id}/failures.csv")

        assert response.status_code == 200
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        assert response.headers["content-disposition"] == (
            f'attachment; filename="import-{import_id}-failures.csv"'
        )
        table = list(csv.DictReader(io.StringIO(response.text)))
        expected = [
            {
                "entity": failure["entity"],
                "id": failure["id"] or "",
                "path": failure["path"] or "",
                "batch": str(failure["batch"]),
                "severity": detail["severity"],
                "severityCode": str(detail["severityCode"]),
                "code": detail["code"],
                "detailEntity": detail["entity"],
                "detailPath": detail["path"] or "",
                "message": detail["message"],
            }
            for failure in failures
            for detail in failure["details"]
        ]
        assert table == expected
        assert len(failures) == 7

    async def test_json_is_the_apis_failures(
        self, web: httpx.AsyncClient, api: Api, media_off: MediaServices
    ) -> None:
        import_id = await import_with_failures(api, media_off)
        await signed_in(web, api)
        failures = (await api.get(f"/api/import/{import_id}/failures?limit=1000")).json()["items"]

        response = await web.get(f"/dashboard/imports/{import_id}/failures.json")

        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.json() == failures

    async def test_downloads_follow_the_filters(
        self, web: httpx.AsyncClient, api: Api, media_off: MediaServices
    ) -> None:
        import_id = await import_with_failures(api, media_off)
        await signed_in(web, api)

        errors = (await web.get(f"/dashboard/imports/{import_id}/failures.json?severity=error")).json()
        categories = (await web.get(f"/dashboard/imports/{import_id}/failures.json?entity=category")).json()
        none = (await web.get(f"/dashboard/imports/{import_id}/failures.json?entity=tax")).json()

        assert len(errors) == 5
        assert all(f["details"][0]["severityCode"] <= 3 for f in errors)
        assert [f["path"] for f in categories] == ["categories.0"]
        assert none == []
