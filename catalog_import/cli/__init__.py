"""The ``catalog-import`` command: serve, worker, migrate, purge, integration create, push, demo."""

import asyncio
import json
import os
import signal
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, Literal

import structlog
import typer
import uvicorn
from rich.console import Console
from rich.table import Table

from catalog_import.cli.push import PUSH_HELP
from catalog_import.config import Settings
from catalog_import.db import create_engine, create_session_factory
from catalog_import.embedded import runtime_settings
from catalog_import.garbage import tune_garbage_collection
from catalog_import.logs import configure_logging
from catalog_import.migrations import upgrade, upgrade_in_child_process
from catalog_import.serving import WORKER_LOCK_VARIABLE

app = typer.Typer(help="Catalog Import API server.", no_args_is_help=True, add_completion=False)
integration_app = typer.Typer(help="Manage integrations (API clients).", no_args_is_help=True)
app.add_typer(integration_app, name="integration")

logger = structlog.get_logger(__name__)


def load_settings() -> Settings:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    return settings


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Do not run an import worker in-process.")
    ] = False,
    processes: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="API processes serving the port; one of them runs the import worker (unless --no-worker). "
            "Default: CATALOG_IMPORT_API_PROCESSES, else 1.",
        ),
    ] = None,
) -> None:
    """Run the HTTP API (and, unless --no-worker, one import worker in the same process)."""
    from catalog_import.app import create_app

    loaded = load_settings()
    count = processes or loaded.api_processes
    with runtime_settings(loaded) as settings:
        assert settings.database_url and settings.redis_url
        upgrade_in_child_process(settings.database_url)
        announce(settings, loaded, f"http://{host}:{port}", worker=not no_worker, processes=count)
        # uvicorn shuts down on SIGTERM, then sends the signal again to the handler it found, which must let
        # the embedded servers stop on the way out rather than end the process at once.
        signal.signal(signal.SIGTERM, exit_on_signal)
        # Open event streams last as long as their imports: on shutdown they get a few seconds to end.
        options: dict[str, Any] = {
            "host": host,
            "port": port,
            "log_config": None,
            "access_log": False,
            "timeout_graceful_shutdown": 5,
        }
        if count == 1:
            application = create_app(settings, run_worker=not no_worker)
            tune_garbage_collection()
            uvicorn.run(application, **options)
            return
        # The processes read their settings from the environment: the embedded servers' URLs go there.
        os.environ["CATALOG_IMPORT_DATABASE_URL"] = settings.database_url
        os.environ["CATALOG_IMPORT_REDIS_URL"] = settings.redis_url
        if no_worker:
            os.environ.pop(WORKER_LOCK_VARIABLE, None)
        else:
            os.environ[WORKER_LOCK_VARIABLE] = str((settings.data_dir / "serve-worker.lock").resolve())
        uvicorn.run("catalog_import.serving:app_from_environment", factory=True, workers=count, **options)


def announce(settings: Settings, configured: Settings, url: str, *, worker: bool, processes: int = 1) -> None:
    """A few lines for whoever started the server: where it listens, where its data is, how to sign in."""
    logger.info(
        "serving",
        url=url,
        docs=f"{url}/api/docs",
        dashboard=f"{url}/dashboard",
        worker=worker,
        processes=processes,
    )
    embedded = [name for name in ("database", "redis") if getattr(configured, f"{name}_url") is None]
    if embedded:
        logger.info("embedded servers", servers=embedded, data_dir=str(settings.data_dir.resolve()))
    logger.info("media files", media_dir=str(settings.media_path.resolve()))
    if not settings.bootstrap_client_id:
        logger.info(
            "to get credentials, run: catalog-import integration create NAME "
            "(python3 dev.py integration create NAME from a checkout)"
        )


def exit_on_signal(signum: int, frame: FrameType | None) -> None:
    """Leave through ``SystemExit``, so that ``with`` blocks run, with the exit code of the signal."""
    raise SystemExit(128 + signum)


@app.command()
def worker(
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help="Serve this worker's Prometheus metrics at /metrics on this port; "
            "default: CATALOG_IMPORT_WORKER_METRICS_PORT, else not served.",
        ),
    ] = None,
    metrics_host: Annotated[
        str | None,
        typer.Option(help="Address of the metrics server; default: CATALOG_IMPORT_WORKER_METRICS_HOST."),
    ] = None,
) -> None:
    """Run an import worker. Start as many as the load needs."""
    from catalog_import.metrics import serve_worker_metrics
    from catalog_import.worker import create_worker

    with runtime_settings(load_settings()) as settings:
        assert settings.database_url
        upgrade_in_child_process(settings.database_url)
        port = metrics_port or settings.worker_metrics_port
        host = metrics_host or settings.worker_metrics_host
        metrics_server = serve_worker_metrics(host, port) if port is not None else None
        if metrics_server is not None:
            logger.info("serving worker metrics", url=f"http://{host}:{port}/metrics")

        async def main() -> None:
            import_worker = create_worker(settings)
            tune_garbage_collection()
            # arq's signal handlers cancel ``main_task``: SIGTERM and SIGINT stop the worker cleanly, and
            # an interrupted job is taken up again by the next worker (its records were not settled).
            import_worker.main_task = asyncio.ensure_future(import_worker.main())
            try:
                await import_worker.main_task
            except asyncio.CancelledError:
                logger.info("worker stopped")
            finally:
                await import_worker.close()

        try:
            asyncio.run(main())
        finally:
            if metrics_server is not None:
                metrics_server.shutdown()
                metrics_server.server_close()


@app.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    with runtime_settings(load_settings()) as settings:
        assert settings.database_url
        upgrade(settings.database_url)
        typer.echo("database schema is up to date")


@app.command()
def purge(
    older_than_days: Annotated[
        int | None,
        typer.Option(min=1, help="Retention period in days; default: CATALOG_IMPORT_RETENTION_DAYS."),
    ] = None,
) -> None:
    """Purge imports past the retention period once (workers do so every ten minutes)."""
    from catalog_import.imports.retention import PurgeResult, purge_expired

    with runtime_settings(load_settings()) as settings:
        assert settings.database_url
        upgrade(settings.database_url)
        days = older_than_days or settings.retention_days

        async def run() -> PurgeResult:
            assert settings.database_url
            engine = create_engine(settings.database_url, pool_size=1)
            try:
                return await purge_expired(create_session_factory(engine), days)
            finally:
                await engine.dispose()

        result = asyncio.run(run())
    typer.echo(
        f"purged {result.imports} imports older than {days} days ({result.records} staged records; "
        f"{result.idle_cancelled} idle imports cancelled)"
    )


@integration_app.command("create")
def integration_create(
    name: Annotated[str, typer.Argument(help="A name for the integration, e.g. the middleware's.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the credentials as JSON.")] = False,
) -> None:
    """Create an integration and print its credentials (shown only this once)."""
    from catalog_import.auth.service import create_integration

    with runtime_settings(load_settings()) as settings:
        assert settings.database_url
        upgrade(settings.database_url)

        async def create() -> tuple[str, str, str]:
            assert settings.database_url
            engine = create_engine(settings.database_url, pool_size=1)
            try:
                async with create_session_factory(engine)() as session, session.begin():
                    created = await create_integration(session, name)
                    return created.client_id, created.client_secret, created.webhook_secret
            finally:
                await engine.dispose()

        client_id, client_secret, webhook_secret = asyncio.run(create())
    if as_json:
        typer.echo(
            json.dumps(
                {"clientId": client_id, "clientSecret": client_secret, "webhookSecret": webhook_secret}
            )
        )
        return
    table = Table(title=f"Integration {name!r}", show_header=False)
    table.add_row("client id", client_id)
    table.add_row("client secret", client_secret)
    table.add_row("webhook secret", webhook_secret)
    Console().print(table)
    Console(stderr=True).print("[yellow]The secrets are shown only now; store them safely.[/yellow]")


@app.command()
def openapi(
    output: Annotated[Path, typer.Option(help="Where to write the document.")] = Path("openapi/openapi.json"),
) -> None:
    """Write the OpenAPI document of the API (the one served at /api/openapi.json)."""
    from catalog_import.app import openapi_document

    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(openapi_document())
    typer.echo(f"wrote {output}")


ClientId = Annotated[
    str,
    typer.Option(envvar="CATALOG_IMPORT_CLIENT_ID", help="The integration's client id.", show_default=False),
]
ClientSecret = Annotated[
    str,
    typer.Option(
        envvar="CATALOG_IMPORT_CLIENT_SECRET", help="The integration's client secret.", show_default=False
    ),
]


@app.command(help=PUSH_HELP)
def push(
    client_id: ClientId,
    client_secret: ClientSecret,
    file: Annotated[
        Path | None,
        typer.Argument(
            help="A .jsonl/.ndjson or .csv/.tsv file of products (with --retry: corrections, if any).",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    url: Annotated[
        str, typer.Option(envvar="CATALOG_IMPORT_URL", help="The server.")
    ] = "http://127.0.0.1:8000",
    file_format: Annotated[
        Literal["jsonl", "csv"] | None,
        typer.Option("--format", help="jsonl or csv; default: by the file's suffix.", show_default=False),
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option(help="CSV delimiter; default: a comma (a tab for .tsv).", show_default=False)
    ] = None,
    name: Annotated[str | None, typer.Option(help="The import's name; default: push FILENAME.")] = None,
    import_id: Annotated[
        str | None,
        typer.Option(help="Push into this open import (one left by --no-commit) instead of starting one."),
    ] = None,
    retry: Annotated[
        str | None,
        typer.Option(
            "--retry",
            metavar="IMPORT_ID",
            help="Start the retry of this done import (its failed and skipped records pushed again, as they "
            "were first pushed), push FILE into it if given (a record of the same product replaces its "
            "earlier version), commit and wait.",
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="Records per push.")] = 1000,
    parallel: Annotated[
        int,
        typer.Option(
            min=1,
            max=16,
            help="Pushes in flight. Above 1 records may be staged out of file order: a record naming "
            "another of the file (a variant its parent, a product a tax another creates) may then need "
            "--defer-references.",
        ),
    ] = 1,
    commit: Annotated[
        bool, typer.Option(help="Commit once pushed; --no-commit leaves the import open and prints its id.")
    ] = True,
    wait: Annotated[bool, typer.Option(help="Wait for the commit to end and report its failures.")] = True,
    create_categories: Annotated[
        bool, typer.Option(help="Push the categories on the paths the products name, parents first.")
    ] = True,
    defer_references: Annotated[
        bool, typer.Option(help="Start the import with deferReferences: references resolved at commit.")
    ] = False,
    skip_failed_media: Annotated[
        bool,
        typer.Option(
            help='Start the import with mediaFailure "skip": a picture that cannot be downloaded is left '
            "out with a warning and its product written without it, instead of failing the product."
        ),
    ] = False,
    show_failures: Annotated[int, typer.Option(min=0, help="Failures listed in the table.")] = 20,
    failures_file: Annotated[
        Path | None,
        typer.Option(help="Write every failure to this file, as JSON Lines.", dir_okay=False),
    ] = None,
) -> None:
    from catalog_import.cli.push import PushOptions, run_push

    options = PushOptions(
        file_format=file_format,
        delimiter=delimiter,
        name=name,
        import_id=import_id,
        retry_of=retry,
        batch_size=batch_size,
        parallel=parallel,
        commit=commit,
        wait=wait,
        create_categories=create_categories,
        defer_references=defer_references,
        skip_failed_media=skip_failed_media,
        show_failures=show_failures,
        failures_file=failures_file,
    )
    raise typer.Exit(run_push(url, client_id, client_secret, file, options))


@app.command()
def demo(
    url: Annotated[
        str | None,
        typer.Option(
            help="Import into this server (on this machine, started with "
            "CATALOG_IMPORT_MEDIA_ALLOWED_HOSTS=127.0.0.1) instead of one of the demo's own.",
            show_default=False,
        ),
    ] = None,
    client_id: Annotated[
        str | None,
        typer.Option(envvar="CATALOG_IMPORT_CLIENT_ID", help="With --url: the integration's client id."),
    ] = None,
    client_secret: Annotated[
        str | None,
        typer.Option(
            envvar="CATALOG_IMPORT_CLIENT_SECRET", help="With --url: the integration's client secret."
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            min=1, max=65535, help="Port of the demo's own server; default: a free one.", show_default=False
        ),
    ] = None,
    serve: Annotated[
        bool, typer.Option(help="Keep the demo's own server running after the import, until Ctrl-C.")
    ] = True,
) -> None:
    """Import a generated sample catalog (products, variants, categories, pictures), for a first look.

    Without --url it starts a throwaway PostgreSQL, Redis and server in this process, imports the sample,
    and serves it until Ctrl-C (then removes it all). The pictures come from a file server on 127.0.0.1."""
    from catalog_import.cli.demo import demo_against, demo_in_process

    if url is None:
        raise typer.Exit(demo_in_process(port, serve))
    if not client_id or not client_secret:
        raise typer.BadParameter("--url needs --client-id and --client-secret", param_hint="--url")
    raise typer.Exit(demo_against(url, client_id, client_secret))


def main() -> None:
    app()
