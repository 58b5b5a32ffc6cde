"""Clients generated from the committed OpenAPI document (``openapi/openapi.json``) work.

- Python: openapi-python-client generates a client (no warning allowed: a warning means an operation or a
  model was left out) whose models carry the document's names (``ProductRecord``, ``TaxRef``…), and a whole
  import, the token request included, runs through its typed functions and models against a real server
  on a loopback port.
- TypeScript: openapi-typescript generates the types, and ``tsc --noEmit --strict`` compiles them together
  with ``clients/typescript/check.ts``, which uses them; ``clients/typescript/client.ts``, a small client on
  plain fetch typed by them, is compiled and run with Node against a real server (token, start, push,
  commit, status). The pinned tools are installed with ``npm ci``
  into ``clients/typescript/node_modules`` when its lock file changed. Needs Node.js and npm; where npm is
  not installed at all the test is skipped, saying why."""

import hashlib
import json
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

import pytest

from tests.factories import product
from tests.live import CLIENT_ID, CLIENT_SECRET, live_get

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "openapi" / "openapi.json"
TYPESCRIPT = ROOT / "clients" / "typescript"
# The package the Python client is generated as (in a temporary directory put on ``sys.path``).
PACKAGE = "catalog_import_generated_client"


def run(command: list[str], cwd: Path, timeout: float) -> str:
    """Run ``command``; fail with its output unless it succeeds. Returns what it printed."""
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(command)} exited with {result.returncode}:\n{output}"
    return output


@pytest.fixture(scope="module")
def generated_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The Python client generated from the committed document, importable as ``PACKAGE``."""
    directory = tmp_path_factory.mktemp("generated-client")
    config = directory / "config.json"
    config.write_text('{"post_hooks": []}')  # leave the generated code unformatted: nothing to run after
    run(
        [
            *(sys.executable, "-m", "openapi_python_client", "generate", "--path", str(DOCUMENT)),
            *("--meta", "none", "--output-path", str(directory / PACKAGE), "--config", str(config)),
            "--fail-on-warning",
        ],
        cwd=directory,
        timeout=120,
    )
    sys.path.insert(0, str(directory))
    try:
        yield
    finally:
        sys.path.remove(str(directory))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def test_generated_python_client_runs_an_import(generated_client: None, live_server: str) -> None:
    from catalog_import_generated_client import AuthenticatedClient, Client
    from catalog_import_generated_client.api.auth import issue_token
    from catalog_import_generated_client.api.catalog import list_products
    from catalog_import_generated_client.api.import_ import (
        commit_import,
        get_import_status,
        push_records,
        start_import,
    )
    from catalog_import_generated_client.models import (
        ErrorResponse,
        ImportConfig,
        ImportOut,
        ImportStatus,
        PageProductView,
        Price,
        ProductRecord,
        PushResult,
        RecordBatch,
        RecordResultActionType0,
        Status,
        TaxRef,
        TokenRequest,
        TokenResponse,
    )

    with Client(base_url=live_server, raise_on_unexpected_status=True) as anonymous:
        credentials = TokenRequest(
            grant_type="client_credentials", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
        )
        token = issue_token.sync(client=anonymous, body=credentials)
    assert isinstance(token, TokenResponse), token

    with AuthenticatedClient(
        base_url=live_server, token=token.access_token, raise_on_unexpected_status=True
    ) as client:
        started = start_import.sync(client=client, body=ImportConfig(name="generated python client"))
        assert isinstance(started, ImportOut), started
        assert started.status is ImportStatus.STARTED
        import_id = uuid.UUID(started.id)

        built = ProductRecord(
            product_number="GENERATED-1",
            name="Built from the models",
            tax=TaxRef(name="Standard rate", tax_rate=19),
            prices=[Price(currency="EUR", gross=11.9, net=10, linked=True)],
            stock=5,
        )
        parsed = ProductRecord.from_dict(product("GENERATED-2"))
        pushed = push_records.sync(import_id, client=client, body=RecordBatch(products=[built, parsed]))
        assert isinstance(pushed, PushResult), pushed
        assert not pushed.contains_errors, pushed
        assert [(record.path, record.action) for record in pushed.records] == [
            ("products.0", RecordResultActionType0.CREATE),
            ("products.1", RecordResultActionType0.CREATE),
        ]

        committed = commit_import.sync_detailed(import_id, client=client)
        assert committed.status_code == HTTPStatus.NO_CONTENT, committed.content

        deadline = time.monotonic() + 60
        while True:
            status = get_import_status.sync(import_id, client=client)
            assert isinstance(status, Status), status
            if status.status is ImportStatus.DONE or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert status.status is ImportStatus.DONE, status
        totals = status.totals
        assert (totals.product, totals.tax, totals.total, totals.failures) == (2, 1, 3, 0), totals
        assert status.failures == []
        assert not status.failures_truncated

        page = list_products.sync(client=client, product_number="GENERATED-1")
        assert isinstance(page, PageProductView), page
        [written] = page.items
        assert (written.name, written.stock, written.tax.name, written.tax.tax_rate) == (
            "Built from the models",
            5,
            "Standard rate",
            19,
        )
        assert [(price.currency, price.gross, price.net) for price in written.prices] == [("EUR", 11.9, 10)]

        refused = push_records.sync(import_id, client=client, body=RecordBatch(products=[built]))
        assert isinstance(refused, ErrorResponse), refused
        assert refused.code == "IMPORT_ALREADY_COMMITTED"


def install_typescript_tools(npm: str) -> None:
    """``npm ci`` in ``clients/typescript``, unless ``node_modules`` was installed from this lock file."""
    lock = (TYPESCRIPT / "package.json").read_bytes() + (TYPESCRIPT / "package-lock.json").read_bytes()
    wanted = hashlib.sha256(lock).hexdigest()
    stamp = TYPESCRIPT / "node_modules" / ".installed-from"
    if stamp.exists() and stamp.read_text() == wanted:
        return
    run([npm, "ci", "--no-audit", "--no-fund"], cwd=TYPESCRIPT, timeout=600)
    stamp.write_text(wanted)


def typescript_tools() -> tuple[str, str]:
    """npx and node, with the pinned tools installed and the types generated from the committed document;
    the test is skipped where npm is not installed at all."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: checking the generated TypeScript types needs Node.js and npm")
    npx, node = shutil.which("npx"), shutil.which("node")
    assert node is not None, "npm is installed but node is not: install Node.js to check the TypeScript types"
    assert npx is not None, "npm is installed but npx is not: reinstall npm to check the TypeScript types"
    install_typescript_tools(npm)
    generated = TYPESCRIPT / "generated" / "openapi.d.ts"
    # --no: never download a tool that the lock file did not install.
    run(
        [npx, "--no", "--", "openapi-typescript", str(DOCUMENT), "-o", str(generated)],
        cwd=TYPESCRIPT,
        timeout=120,
    )
    assert "push_records" in generated.read_text()
    return npx, node


def test_generated_typescript_types_compile() -> None:
    npx, _node = typescript_tools()

    run([npx, "--no", "--", "tsc", "--noEmit", "--strict"], cwd=TYPESCRIPT, timeout=120)


def test_a_typescript_client_on_the_generated_types_runs_an_import(live_server: str) -> None:
    npx, node = typescript_tools()
    run([npx, "--no", "--", "tsc", "-p", "tsconfig.client.json"], cwd=TYPESCRIPT, timeout=120)

    printed = run(
        [node, "build/client.js", live_server, CLIENT_ID, CLIENT_SECRET, "TYPESCRIPT-1"],
        cwd=TYPESCRIPT,
        timeout=120,
    )

    answer = json.loads(printed.splitlines()[-1])
    assert [record["action"] for record in answer["pushed"]["records"]] == ["create", "create"]
    status = answer["status"]
    assert (status["status"], status["failures"]) == ("done", [])
    assert (status["totals"]["product"], status["totals"]["tax"]) == (1, 1)
    [written] = live_get(live_server, "/api/catalog/products", productNumber="TYPESCRIPT-1").json()["items"]
    assert (written["name"], written["stock"], written["tax"]["name"]) == (
        "From TypeScript",
        12,
        "Typescript rate",
    )
