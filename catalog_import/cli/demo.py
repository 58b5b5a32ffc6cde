"""``catalog-import demo``: a first look. It generates a small sample catalog — two taxes, a category tree,
fifty products with properties, some with variants, and a picture each, drawn with Pillow and served by a
file server on 127.0.0.1 — writes it as a JSON Lines file, and imports that file the way ``push`` does.

Without ``--url`` it runs everything in this process: a throwaway PostgreSQL and Redis in a temporary
directory, the API with its worker on 127.0.0.1 (fetching media from 127.0.0.1 allowed), an integration
for the import; then it keeps serving until Ctrl-C so that the catalog can be browsed, and removes it all
on exit. With ``--url`` it imports into that server, which must run on this machine and allow media from
127.0.0.1 (``CATALOG_IMPORT_MEDIA_ALLOWED_HOSTS=127.0.0.1``).

One product names a picture the file server does not have, so that the summary shows how a failure is
reported; the demo succeeds when that product, and nothing else, failed."""

import asyncio
import contextlib
import hashlib
import io
import json
import os
import random
import secrets
import signal
import socket
import tempfile
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from PIL import Image, ImageDraw, ImageFont
from pydantic import SecretStr
from rich.console import Console
from rich.text import Text

from catalog_import.cli.push import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SERVER,
    EXIT_USAGE,
    PushOptions,
    PushOutcome,
    push_command,
    server_problem,
)
from catalog_import.client import CatalogImportError
from catalog_import.config import Settings

MISSING_PICTURE = "Bird house"
"""The product whose picture is missing on purpose."""

STANDARD = {"name": "Standard rate", "taxRate": 19}
REDUCED = {"name": "Reduced rate", "taxRate": 7}

# Leaf categories under Home, with their products: (name, tax, the property group of the leaf, its options).
CATALOG: list[tuple[tuple[str, ...], list[str], dict[str, Any], str, list[str]]] = [
    (
        ("Clothing", "Shirts"),
        ["Linen shirt", "Oxford shirt", "Flannel shirt", "Polo shirt", "Denim shirt", "Henley shirt"],
        STANDARD,
        "Material",
        ["Linen", "Cotton", "Wool blend"],
    ),
    (
        ("Clothing", "Trousers"),
        ["Chinos", "Cargo trousers", "Corduroy trousers", "Linen trousers", "Jeans", "Shorts"],
        STANDARD,
        "Fit",
        ["Slim", "Regular", "Relaxed"],
    ),
    (
        ("Clothing", "Shoes"),
        ["Running shoes", "Leather boots", "Canvas sneakers", "Sandals", "Loafers", "Hiking boots"],
        STANDARD,
        "Material",
        ["Leather", "Canvas", "Mesh"],
    ),
    (
        ("Kitchen", "Cookware"),
        ["Frying pan 24 cm", "Frying pan 28 cm", "Saucepan", "Stock pot", "Wok", "Cast iron skillet"],
        STANDARD,
        "Material",
        ["Stainless steel", "Cast iron", "Aluminium"],
    ),
    (
        ("Kitchen", "Tableware"),
        ["Dinner plate", "Soup bowl", "Espresso cup", "Mug", "Salad bowl", "Serving platter", "Wine glass"],
        STANDARD,
        "Material",
        ["Porcelain", "Stoneware", "Glass"],
    ),
    (
        ("Kitchen", "Knives"),
        ["Chef's knife", "Bread knife", "Paring knife", "Knife block", "Sharpening stone", "Cutting board"],
        STANDARD,
        "Finish",
        ["Polished", "Matte", "Oiled"],
    ),
    (
        ("Garden", "Seeds and plants"),
        ["Tomato seeds", "Basil seeds", "Sunflower seeds", "Lavender plant", "Rosemary plant", "Olive tree"],
        REDUCED,
        "Season",
        ["Spring", "Summer", "All year"],
    ),
    (
        ("Garden", "Tools"),
        ["Watering can", "Garden gloves", "Pruning shears", "Rake", "Spade", "Wheelbarrow", MISSING_PICTURE],
        STANDARD,
        "Material",
        ["Steel", "Wood", "Plastic"],
    ),
]
# Products sold in variants: the configurator of a few shirts and shoes.
VARIANTS = {
    "Linen shirt": [("Size", ["S", "M", "L"]), ("Color", ["White", "Blue"])],
    "Oxford shirt": [("Size", ["S", "M", "L"]), ("Color", ["White", "Blue"])],
    "Polo shirt": [("Size", ["S", "M", "L", "XL"])],
    "Running shoes": [("Size", ["40", "41", "42", "43"])],
    "Leather boots": [("Size", ["41", "42", "43"]), ("Color", ["Brown", "Black"])],
}


@dataclass
class SampleCatalog:
    products: list[dict[str, Any]]
    pictures: dict[str, bytes] = field(default_factory=dict)
    """The file server's files, by path."""

    @property
    def categories(self) -> int:
        return len({path[:depth] for path, *_ in CATALOG for depth in (1, 2)}) + 2  # Home and Home > Sale

    @property
    def variants(self) -> int:
        count = 0
        for record in self.products:
            if "variants" in record:
                groups: dict[str, int] = {}
                for option in record["variants"]:
                    groups[option["property"]] = groups.get(option["property"], 0) + 1
                combinations = 1
                for values in groups.values():
                    combinations *= values
                count += combinations
        return count


def sample_catalog(pictures_url: str, seed: int = 2026) -> SampleCatalog:
    """The demo's products (the same every time), whose pictures are at ``pictures_url``."""
    rng = random.Random(seed)  # noqa: S311 (sample data, not secrets)
    catalog = SampleCatalog(products=[])
    number = 1000
    for leaf, names, tax, group, options in CATALOG:
        for name in names:
            number += 1
            product_number = f"DEMO-{number}"
            gross = rng.choice([4.99, 9.9, 12.5, 19.9, 24.95, 39, 49.9, 79, 129])
            net = round(gross / (1 + tax["taxRate"] / 100), 2)
            picture = f"{product_number.lower()}.jpg"
            if name == MISSING_PICTURE:
                picture = "missing-picture.jpg"
            else:
                catalog.pictures[f"/{picture}"] = draw_picture(name, product_number, leaf)
            categories = [{"path": ["Home", *leaf]}]
            if rng.random() < 0.2:
                categories.append({"path": ["Home", "Sale"]})
            record: dict[str, Any] = {
                "productNumber": product_number,
                "name": name,
                "description": f"{name} from the sample catalog of catalog-import demo.",
                "active": True,
                "stock": rng.randint(0, 250),
                "tax": dict(tax),
                "prices": [{"currency": "EUR", "gross": gross, "net": net}],
                "categories": categories,
                "properties": [{"group": group, "option": rng.choice(options)}],
                "media": [
                    {
                        "url": f"{pictures_url}/{picture}",
                        "title": name,
                        "alt": f"A picture of the {name.lower()}",
                        "folder": {"path": ["Demo", leaf[-1]]},
                    }
                ],
            }
            if name in VARIANTS:
                record["variants"] = [
                    {"property": prop, "value": value} for prop, values in VARIANTS[name] for value in values
                ]
            catalog.products.append(record)
    return catalog


def draw_picture(name: str, product_number: str, leaf: tuple[str, ...]) -> bytes:
    """A small JPEG: a colour per category, a shape per product, and the product's name."""
    digest = hashlib.sha256(product_number.encode()).digest()
    hue = hashlib.sha256("/".join(leaf).encode()).digest()
    background = (80 + hue[0] % 120, 80 + hue[1] % 120, 80 + hue[2] % 120)
    shape = (150 + digest[0] % 100, 150 + digest[1] % 100, 150 + digest[2] % 100)
    image = Image.new("RGB", (320, 320), background)
    draw = ImageDraw.Draw(image)
    if digest[3] % 2:
        draw.ellipse((70, 40, 250, 220), fill=shape)
    else:
        draw.rounded_rectangle((70, 40, 250, 220), radius=24, fill=shape)
    font = ImageFont.load_default(size=24)
    draw.text((160, 262), name, font=font, anchor="mm", fill="white")
    draw.text((160, 292), product_number, font=ImageFont.load_default(size=16), anchor="mm", fill="white")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


class PictureServer:
    """An HTTP server on 127.0.0.1 (a free port) answering the paths in ``files``, 404 for any other."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        files = self.files

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "PictureServer":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class Sample:
    path: Path
    """The JSON Lines file of the sample catalog."""
    catalog: SampleCatalog
    pictures_url: str
    missing_line: int
    """The line of the product whose picture is missing."""


@contextlib.contextmanager
def sample_file(directory: Path) -> Iterator[Sample]:
    """Serve the sample catalog's pictures and write the catalog to ``directory``."""
    with PictureServer() as pictures:
        catalog = sample_catalog(pictures.url)
        pictures.files.update(catalog.pictures)
        path = directory / "demo-catalog.jsonl"
        missing_line = 0
        with path.open("w", encoding="utf-8") as file:
            for line, record in enumerate(catalog.products, start=1):
                file.write(json.dumps(record, ensure_ascii=False) + "\n")
                if record["name"] == MISSING_PICTURE:
                    missing_line = line
        yield Sample(path, catalog, pictures.url, missing_line)


async def import_sample(
    url: str, client_id: str, client_secret: str, sample: Sample, console: Console, progress: Console
) -> int:
    """Push the sample file to ``url`` and tell whether it went as planned: the exit code."""
    catalog = sample.catalog
    console.print(
        Text(
            f"Sample catalog: {len(catalog.products)} products ({catalog.variants} variants), "
            f"{catalog.categories} categories, 2 taxes, {len(catalog.pictures)} pictures served from "
            f"{sample.pictures_url} (this machine only)\nImporting {sample.path} into {url}"
        )
    )
    options = PushOptions(name="catalog-import demo", poll_seconds=0.2)
    outcome = await push_command(
        url, client_id, client_secret, sample.path, options, console=console, progress_console=progress
    )
    return verdict(outcome, sample, console)


def verdict(outcome: PushOutcome, sample: Sample, console: Console) -> int:
    codes = {detail["code"] for failure in outcome.failures for detail in failure.details}
    if "MEDIA_URL_FORBIDDEN" in codes:
        console.print(
            "The server refused the pictures on 127.0.0.1: start it with "
            "CATALOG_IMPORT_MEDIA_ALLOWED_HOSTS=127.0.0.1, or run `catalog-import demo` without --url.",
            markup=False,
        )
        return EXIT_FAILED
    planned = (
        outcome.status is not None
        and outcome.status.status == "done"
        and outcome.push_failures == 0
        and outcome.commit_failures == 1
        and [(failure.stage, failure.line) for failure in outcome.failures]
        == [("commit", sample.missing_line)]
    )
    if not planned:
        console.print("The sample catalog did not import as planned (see above).")
        return outcome.exit_code or EXIT_FAILED
    console.print(
        Text(
            f"As planned, the {MISSING_PICTURE.lower()} (line {sample.missing_line}) failed: its picture is "
            "not on the file server, so the product was not imported. Everything else was written."
        )
    )
    return EXIT_OK


def browse_help(url: str, client_id: str, client_secret: str) -> str:
    auth = '-H "Authorization: Bearer $TOKEN"'
    return "\n".join(
        [
            f"Browse the catalog (API docs: {url}/api/docs):",
            f"  TOKEN=$(curl -s {url}/api/oauth/token -d grant_type=client_credentials \\",
            f"    -d client_id={client_id} -d client_secret={client_secret} \\",
            "    | python3 -c 'import json, sys; print(json.load(sys.stdin)[\"access_token\"])')",
            f"  curl -s {auth} '{url}/api/catalog/products?productNumber=DEMO-1001'",
            f"  curl -s {auth} '{url}/api/catalog/categories?path=Home&path=Kitchen'",
            f"  curl -s {auth} '{url}/api/import'",
        ]
    )


# -- against a running server ------------------------------------------------------------------------------


def demo_against(url: str, client_id: str, client_secret: str) -> int:
    """``catalog-import demo --url``: import the sample catalog into a server on this machine."""
    console, errors = Console(), Console(stderr=True)
    with tempfile.TemporaryDirectory(prefix="ci-demo-") as directory, sample_file(Path(directory)) as sample:
        try:
            code = asyncio.run(import_sample(url, client_id, client_secret, sample, console, errors))
        except (CatalogImportError, httpx.HTTPError) as error:
            errors.print(Text.assemble(("error: ", "red"), server_problem(error, url)))
            return EXIT_SERVER
        except KeyboardInterrupt:
            errors.print("Interrupted.")
            return EXIT_INTERRUPTED
    console.print()
    console.print(
        browse_help(url, client_id, "<client secret>"), markup=False, highlight=False, soft_wrap=True
    )
    return code


# -- everything in this process ----------------------------------------------------------------------------


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def demo_in_process(port: int | None, keep_serving: bool) -> int:
    """``catalog-import demo``: run a throwaway server in this process and import the sample into it."""
    from catalog_import.embedded import free_port, runtime_settings
    from catalog_import.logs import configure_logging
    from catalog_import.migrations import upgrade

    console, errors = Console(), Console(stderr=True)
    if port is not None and not port_is_free(port):
        errors.print(f"error: port {port} on 127.0.0.1 is in use; give another with --port", markup=False)
        return EXIT_USAGE
    # The demo's own output is the point; the server's logs say only what went wrong.
    configure_logging(os.environ.get("CATALOG_IMPORT_LOG_LEVEL", "ERROR"), json=False)
    warnings.filterwarnings("ignore", category=UserWarning, module="platformdirs")
    client_id, client_secret = "demo", secrets.token_urlsafe(18)
    demo: InProcessDemo | None = None
    try:
        # A short path: PostgreSQL's socket path must stay under 108 bytes.
        with tempfile.TemporaryDirectory(prefix="ci-demo-") as directory, contextlib.ExitStack() as stack:
            root = Path(directory)
            settings = Settings(
                database_url=None,
                redis_url=None,
                data_dir=root,
                media_dir=root / "media",
                media_allowed_hosts=["127.0.0.1"],
                bootstrap_client_id=client_id,
                bootstrap_client_secret=SecretStr(client_secret),
                queue_name="catalog-import-demo",
            )
            with console.status("Starting a throwaway PostgreSQL and Redis…"):
                running = stack.enter_context(runtime_settings(settings))
                assert running.database_url
                upgrade(running.database_url)
            sample = stack.enter_context(sample_file(root))
            demo = InProcessDemo(running, port or free_port(), client_id, client_secret, console, errors)
            asyncio.run(demo.run(sample, keep_serving))
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass
    except (CatalogImportError, httpx.HTTPError) as error:
        errors.print(Text.assemble(("error: ", "red"), server_problem(error, "the demo server")))
        return EXIT_SERVER
    if demo is None or demo.code is None:
        errors.print("Interrupted.")
        return EXIT_INTERRUPTED
    if keep_serving:
        console.print("Stopped; the demo's database and files are removed.")
    return demo.code


class InProcessDemo:
    """The API and its worker served on 127.0.0.1 in this process's event loop, with the sample import."""

    def __init__(
        self,
        settings: Settings,
        port: int,
        client_id: str,
        client_secret: str,
        console: Console,
        errors: Console,
    ) -> None:
        self.settings = settings
        self.url = f"http://127.0.0.1:{port}"
        self.port = port
        self.client_id = client_id
        self.client_secret = client_secret
        self.console = console
        self.errors = errors
        self.code: int | None = None
        """The exit code, once the sample is imported."""

    async def run(self, sample: Sample, keep_serving: bool) -> None:
        import uvicorn

        from catalog_import.app import create_app

        class Server(uvicorn.Server):
            # Signals are the demo's: Ctrl-C (and SIGTERM) cancel it, and it stops the server.
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                yield

        main = asyncio.current_task()
        assert main is not None
        with contextlib.suppress(NotImplementedError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)
        app = create_app(self.settings, run_worker=True)
        server = Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None, access_log=False)
        )
        serving = asyncio.create_task(server.serve())
        try:
            while not server.started:
                if serving.done():
                    serving.result()
                    raise RuntimeError("the demo server stopped while starting")
                await asyncio.sleep(0.05)
            self.code = await import_sample(
                self.url, self.client_id, self.client_secret, sample, self.console, self.errors
            )
            if keep_serving:
                self.console.print()
                self.console.print(
                    browse_help(self.url, self.client_id, self.client_secret),
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )
                self.console.print(
                    Text(
                        f"\nServing the demo at {self.url} (client id {self.client_id}, client secret "
                        f"{self.client_secret}); the file it pushed is {sample.path}. Ctrl-C stops it."
                    ),
                    highlight=False,
                )
                await asyncio.Event().wait()
        finally:
            server.should_exit = True
            await serving
