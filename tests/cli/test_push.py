"""``catalog-import push`` against a real server on a loopback port: JSON Lines and CSV files with records
that fail in the file, at push and at commit (the summary, the failures table, the failures file, the exit
code), an import left open with --no-commit and finished by a second push, and files or options that stop
the run before anything is pushed."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from catalog_import.cli import app
from catalog_import.config import Settings
from tests.factories import product
from tests.live import CLIENT_ID, CLIENT_SECRET, live_get, serve_process
from tests.media.servers import LoopbackServer, Reply


def push(url: str, *args: str, secret: str = CLIENT_SECRET) -> Result:
    """Run ``catalog-import push`` as a user would (a wide terminal, so that table cells stay on a line)."""
    return CliRunner().invoke(
        app,
        ["push", *args, "--url", url, "--client-id", CLIENT_ID, "--client-secret", secret],
        env={"COLUMNS": "240"},
    )


def failures_table(output: str) -> list[tuple[str, str, str, str]]:
    """The failures table's rows as (line, record, stage, codes), codes joined by spaces."""
    rows: list[list[str]] = []
    for text in output[output.index("Failures (") :].splitlines():
        if not text.startswith("│"):
            continue
        cells = [cell.strip() for cell in text.strip("│").split("│")]
        if cells[0] or cells[1] or not rows:
            rows.append(cells)
        else:  # a cell that goes on on the next line: another code of the same failure
            rows[-1][3] = f"{rows[-1][3]} {cells[3]}".strip()
    return [(line, record, stage, codes) for line, record, stage, codes, _ in rows]


def summary(output: str) -> dict[str, str]:
    """The summary's figures: ``{"records in the file": "4", "pushed": "…", …}``."""
    labels = (
        "pushed again",
        "records in the file",
        "pushed",
        "rejected at push",
        "written",
        "failed at commit",
    )
    found = {}
    for text in output.splitlines():
        for label in labels:
            if text.startswith(f"{label} "):
                found[label] = text[len(label) :].strip()
    return found


def write_jsonl(path: Path, lines: list[dict[str, Any] | str]) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


class Catalog:
    """Reads of the server's catalog and imports, with the test integration's token."""

    def __init__(self, url: str) -> None:
        self.url = url

    def get(self, path: str, **params: str) -> Any:
        return live_get(self.url, path, **params).json()

    def product(self, number: str) -> dict[str, Any] | None:
        items = self.get("/api/catalog/products", productNumber=number)["items"]
        return items[0] if items else None

    def imports(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.get("/api/import")["items"]
        return items

    def status(self, import_id: str) -> dict[str, Any]:
        status: dict[str, Any] = self.get(f"/api/import/{import_id}/status")
        return status


def import_id_in(output: str) -> str:
    found = re.search(r"Import ([0-9a-f]{32}) ", output)
    assert found, output
    return found.group(1)


def test_a_jsonl_file_with_failures_in_the_file_at_push_and_at_commit(
    live_server: str, tmp_path: Path
) -> None:
    with LoopbackServer() as pictures:
        picture = pictures.image("/shirt.png")
        missing = pictures.url("/missing.png")
        path = write_jsonl(
            tmp_path / "products.jsonl",
            [
                product("JL-1", categories=[{"path": ["Home", "Shirts"]}], media=[{"url": picture}]),
                product("JL-2", categories=[{"path": ["Home", "Shirts"]}]),
                "",
                product("JL-3", prices=[{"currency": "ZZZ", "gross": 1, "net": 1}]),
                product("JL-4", media=[{"url": missing}]),
                product("JL-5", stock="many"),
                product("JL-6", categories=[{"path": ["Home", "Trousers"]}]),
            ],
        )

        # Two records a push: the lines of failures are told across batches.
        result = push(
            live_server, str(path), "--batch-size", "2", "--failures-file", str(tmp_path / "f.jsonl")
        )

    assert result.exit_code == 1, result.output
    import_id = import_id_in(result.stdout)
    assert f"Import {import_id} done in " in result.stdout
    assert summary(result.stdout) == {
        "records in the file": "6",
        "pushed": "4 products, 3 categories",
        "rejected at push": "2",
        "written": "3 products, 3 categories, 1 media, 1 tax",
        "failed at commit": "1",
    }
    assert "Failures (3)" in result.stdout
    assert failures_table(result.stdout) == [
        ("4", "JL-3", "push", "CURRENCY_NOT_FOUND"),
        ("6", "JL-5", "push", "INVALID_FIELD"),
        ("5", "JL-4", "commit", "MEDIA_DOWNLOAD_FAILED NESTED_FAILED"),
    ]
    assert "prices.0.currency: Currency ZZZ not found" in result.stdout
    assert f"media.0: Media {missing} could not be downloaded: HTTP 404" in result.stdout
    assert f"Every failure is in {tmp_path / 'f.jsonl'}" in result.stdout
    # Progress goes to stderr, the summary to stdout.
    assert "Pushing products.jsonl" in result.stderr
    assert "Committing" in result.stderr

    reported = [json.loads(line) for line in (tmp_path / "f.jsonl").read_text().splitlines()]
    assert [(failure["stage"], failure["line"], failure["label"]) for failure in reported] == [
        ("push", 4, "JL-3"),
        ("push", 6, "JL-5"),
        ("commit", 5, "JL-4"),
    ]
    # Each with its record as it was pushed, so that the file can be corrected and pushed again.
    assert [failure["record"] for failure in reported] == [
        product("JL-3", prices=[{"currency": "ZZZ", "gross": 1, "net": 1}]),
        product("JL-5", stock="many"),
        product("JL-4", media=[{"url": missing}]),
    ]
    assert reported[0]["details"][0]["path"] == "products.0.prices.0.currency"
    assert reported[2]["id"] is not None
    assert [detail["code"] for detail in reported[2]["details"]] == ["MEDIA_DOWNLOAD_FAILED", "NESTED_FAILED"]

    catalog = Catalog(live_server)
    written = catalog.product("JL-1")
    assert written is not None
    assert [category["path"] for category in written["categories"]] == [["Home", "Shirts"]]
    assert [(media["sourceUrl"], media["mimeType"]) for media in written["media"]] == [(picture, "image/png")]
    assert catalog.product("JL-6") is not None
    assert [catalog.product(number) for number in ("JL-3", "JL-4", "JL-5")] == [None, None, None]


def test_a_failures_file_is_pushed_again_as_it_is(live_server: str, tmp_path: Path) -> None:
    with LoopbackServer() as pictures:
        late = pictures.serve("/late.png", Reply(status=404), Reply(body=pictures.png("/late.png")))
        path = write_jsonl(
            tmp_path / "products.jsonl", [product("FF-1"), product("FF-2", media=[{"url": late}])]
        )
        first = push(live_server, str(path), "--failures-file", str(tmp_path / "failed.jsonl"))
        (tmp_path / "failed.jsonl").write_text(
            (tmp_path / "failed.jsonl").read_text()
            + json.dumps(
                {"stage": "file", "line": 9, "label": "X", "id": None, "details": [], "record": None}
            )
            + "\n"
        )

        again = push(live_server, str(tmp_path / "failed.jsonl"))

    assert first.exit_code == 1, first.output
    assert again.exit_code == 1, again.output
    assert summary(again.stdout)["pushed"] == "1 product"
    assert failures_table(again.stdout) == [("2", "X", "file", "INVALID_ROW")]
    assert "a failure at file without a record to push again" in again.stdout
    written = Catalog(live_server).product("FF-2")
    assert written is not None and [media["sourceUrl"] for media in written["media"]] == [late]


def test_retry_pushes_the_failed_records_again_with_corrections(live_server: str, tmp_path: Path) -> None:
    with LoopbackServer() as pictures:
        gone, here = pictures.url("/gone.png"), pictures.image("/here.png")
        path = write_jsonl(
            tmp_path / "products.jsonl",
            [product("RT-1"), product("RT-2", media=[{"url": gone}]), product("RT-3", media=[{"url": gone}])],
        )
        first = push(live_server, str(path))
        first_id = import_id_in(first.stdout)
        fixed = write_jsonl(tmp_path / "fixed.jsonl", [product("RT-3", media=[{"url": here}])])

        retried = push(
            live_server, "--retry", first_id, str(fixed), "--failures-file", str(tmp_path / "f.jsonl")
        )

    assert first.exit_code == 1, first.output
    assert retried.exit_code == 1, retried.output
    retry_id = import_id_in(retried.stdout)
    assert f"the retry of {first_id}, with 2 of its records again" in retried.stderr
    assert summary(retried.stdout)["pushed"] == "1 product"
    assert summary(retried.stdout)["pushed again"] == f"2 (the retry of {first_id})"
    assert failures_table(retried.stdout) == [("", "RT-2", "commit", "MEDIA_DOWNLOAD_FAILED NESTED_FAILED")]
    [reported] = [json.loads(line) for line in (tmp_path / "f.jsonl").read_text().splitlines()]
    assert (reported["line"], reported["record"]) == (None, product("RT-2", media=[{"url": gone}]))
    catalog = Catalog(live_server)
    assert catalog.status(retry_id)["retryOf"] == first_id
    written = catalog.product("RT-3")
    assert written is not None and [media["sourceUrl"] for media in written["media"]] == [here]


def test_retry_options_that_cannot_be_used_exit_2(live_server: str, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "products.jsonl", [product("OPT-1")])
    done = push(live_server, str(path))

    nothing = push(live_server, "--retry", import_id_in(done.stdout))
    both = push(live_server, str(path), "--retry", import_id_in(done.stdout), "--import-id", "0" * 32)
    neither = push(live_server)
    unknown = push(live_server, "--retry", "0190aaaa000070008000000000000000")

    assert done.exit_code == 0, done.output
    assert nothing.exit_code == 2, nothing.output
    assert "no failed or skipped root records" in nothing.stderr
    assert both.exit_code == 2 and "cannot push into --import-id" in both.stderr
    assert neither.exit_code == 2 and "give a FILE of products to push, or --retry" in neither.stderr
    assert unknown.exit_code == 2 and "this integration has no such import" in unknown.stderr
    assert len(Catalog(live_server).imports()) == 1


def test_skip_failed_media_writes_the_product_without_its_missing_picture(
    live_server: str, tmp_path: Path
) -> None:
    with LoopbackServer() as pictures:
        missing = pictures.url("/missing.png")
        path = write_jsonl(tmp_path / "products.jsonl", [product("SK-1", media=[{"url": missing}])])

        result = push(live_server, str(path), "--skip-failed-media")

    assert result.exit_code == 0, result.output
    assert summary(result.stdout)["written"] == "1 product, 1 tax"
    status = Catalog(live_server).status(import_id_in(result.stdout))
    (failure,) = status["failures"]
    assert [(d["code"], d["severity"], d["path"]) for d in failure["details"]] == [
        ("MEDIA_DOWNLOAD_FAILED", "warning", "products.0.media.0")
    ]
    written = Catalog(live_server).product("SK-1")
    assert written is not None and written["media"] == []


def test_a_csv_file_with_failures_split_to_the_server_limit(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "products.csv"
    path.write_text(
        "productNumber,name,tax,taxRate,gross,net,price.usd.gross,price.usd.net,stock,categories,properties\n"
        "CSV-1,Linen shirt,Standard rate,19,11.90,10,13,10.92,5,Home>Clothing>Shirts|Home>Sale,Color:Red\n"
        "CSV-2,Chinos,Standard rate,,29.9,25.13,,,x,Home>Clothing>Trousers,\n"
        "CSV-3,Mug,Reduced,,4.99,4.66,,,3,Home>Kitchen,\n"
        '"CSV-4","Shorts, short",Standard rate,,"19.90",16.72,,,7,Home>Clothing>Trousers,Fit:Relaxed\n'
        "CSV-5,Socks,Standard rate,,2.50,,,,1,,\n"
    )

    # The server takes two records a push: every batch (categories too) is split until it fits.
    with serve_process(settings, tmp_path, CATALOG_IMPORT_MAX_RECORDS_PER_PUSH="2") as url:
        result = push(url, str(path))
        catalog = Catalog(url)
        shirt, shorts = catalog.product("CSV-1"), catalog.product("CSV-4")
        rejected = [catalog.product(number) for number in ("CSV-2", "CSV-3", "CSV-5")]

    assert result.exit_code == 1, result.output
    assert summary(result.stdout) == {
        "records in the file": "5",
        "pushed": "2 products, 6 categories",
        "rejected at push": "3",
        "written": "2 products, 6 categories, 1 tax",
        "failed at commit": "0",
    }
    assert failures_table(result.stdout) == [
        ("3", "CSV-2", "file", "INVALID_ROW"),
        ("6", "CSV-5", "file", "INVALID_ROW"),
        ("4", "CSV-3", "push", "TAX_NOT_FOUND"),
    ]
    assert "stock: 'x' is not an integer" in result.stdout
    assert "gross is given without net" in result.stdout
    assert shirt is not None and shorts is not None
    assert shirt["name"] == "Linen shirt"
    assert shirt["stock"] == 5
    assert shirt["tax"]["taxRate"] == 19
    assert sorted((price["currency"], price["gross"], price["net"]) for price in shirt["prices"]) == [
        ("EUR", 11.9, 10),
        ("USD", 13, 10.92),
    ]
    assert sorted(category["path"] for category in shirt["categories"]) == [
        ["Home", "Clothing", "Shirts"],
        ["Home", "Sale"],
    ]
    assert shirt["properties"] == [{"group": "Color", "option": "Red"}]
    assert (shorts["name"], shorts["properties"]) == (
        "Shorts, short",
        [{"group": "Fit", "option": "Relaxed"}],
    )
    assert rejected == [None, None, None]


def test_no_commit_leaves_the_import_open_for_a_second_push_that_commits_it(
    live_server: str, tmp_path: Path
) -> None:
    first = write_jsonl(tmp_path / "first.jsonl", [product("NC-1"), product("NC-2")])
    second = write_jsonl(tmp_path / "second.jsonl", [product("NC-3", categories=[{"path": ["Open"]}])])
    catalog = Catalog(live_server)

    opened = push(live_server, str(first), "--no-commit", "--name", "nightly")

    assert opened.exit_code == 0, opened.output
    import_id = import_id_in(opened.stdout)
    assert f"Import {import_id} left open, not committed" in opened.stdout
    assert f"--import-id {import_id}" in opened.stdout
    assert "Failures" not in opened.stdout
    status = catalog.status(import_id)
    assert (status["name"], status["status"], status["progress"]["total"]) == ("nightly", "started", 3)

    committed = push(live_server, str(second), "--import-id", import_id)

    assert committed.exit_code == 0, committed.output
    assert f"Pushing into import {import_id} (nightly)" in committed.stderr
    assert f"Import {import_id} done in " in committed.stdout
    assert summary(committed.stdout)["written"] == "3 products, 1 category, 1 tax"
    assert "Failures" not in committed.stdout
    assert [item["id"] for item in catalog.imports()] == [import_id]
    assert all(catalog.product(number) for number in ("NC-1", "NC-2", "NC-3"))

    # The import is done now: it takes no more records, and nothing is pushed.
    again = push(live_server, str(second), "--import-id", import_id)

    assert again.exit_code == 2, again.output
    assert f"--import-id {import_id}: the import is done" in again.stderr


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "products.jsonl",
            '{"productNumber": "BAD-1", "name": "x"}\n{"productNumber": "BAD-2",\n["BAD-3"]\n',
            "products.jsonl: 2 lines cannot be read as records, so nothing was pushed; fix the file and run "
            "again.\n  line 2: not valid JSON at column",
        ),
        (
            "products.csv",
            "productNumber,name,colour\nBAD-1,Shirt,red\n",
            "products.csv line 1: unknown column 'colour' (column 3)",
        ),
        ("products.csv", "productNumber,name\nBAD-1,Shirt,red\n", "line 2: 3 cells, but the header names 2"),
        ("products.jsonl", "\n\n", "products.jsonl holds no records; nothing to import"),
        ("products.xml", "<products/>", "give --format jsonl or --format csv"),
    ],
)
def test_a_file_that_cannot_be_read_stops_the_run_before_anything_is_pushed(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text)

    # The file is read before the server is asked anything: this one is never reached.
    result = push("http://127.0.0.1:9", str(path))

    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ")
    assert message in result.stderr
    assert result.stdout == ""


def test_server_problems_exit_3_and_options_that_name_no_import_exit_2(
    live_server: str, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "products.jsonl", [product("SRV-1")])

    refused = push(live_server, str(path), secret="wrong")
    unknown = push(live_server, str(path), "--import-id", "0190aaaa000070008000000000000000")
    unreachable = push("http://127.0.0.1:9", str(path))

    assert refused.exit_code == 3, refused.output
    assert "answered 401 INVALID_CLIENT" in refused.stderr
    assert "(check --client-id and --client-secret)" in refused.stderr
    assert unknown.exit_code == 2, unknown.output
    assert "this integration has no such import" in unknown.stderr
    assert unreachable.exit_code == 3, unreachable.output
    assert "cannot reach the server at http://127.0.0.1:9" in unreachable.stderr
    assert Catalog(live_server).imports() == []


def test_a_file_with_many_broken_lines_lists_the_first_ten(tmp_path: Path) -> None:
    path = tmp_path / "products.jsonl"
    path.write_text("".join(f"not json {number}\n" for number in range(12)) + '{"productNumber": "OK"}\n')

    result = push("http://127.0.0.1:9", str(path))

    assert result.exit_code == 2, result.output
    assert "products.jsonl: 12 lines cannot be read as records" in result.stderr
    assert "  line 10: not valid JSON" in result.stderr
    assert "  line 11: " not in result.stderr
    assert "  … and 2 more" in result.stderr
