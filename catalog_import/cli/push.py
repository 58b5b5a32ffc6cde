"""``catalog-import push FILE``: stream a JSON Lines or CSV file of products into a new import in batches,
commit it and wait for the workers, with progress bars for both, then a summary and a table of what
failed, each failure pointed back at the line of the file it came from.

The file is read once before anything is pushed (``check_file``): a line that is not a record of its
format stops the run there, with nothing pushed. Then a row whose cells do not fit their columns, or a
record the server rejects at push time, is reported and not sent again; the others go on. Category paths
the products name are pushed as category records first (once per run), so that a file of products builds
its category tree. Memory stays flat: a few batches are in hand at a time, and the lines of what was pushed
are kept as runs of consecutive lines (see ``Lines``)."""

import asyncio
import bisect
import contextlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from catalog_import.cli.files import CSV_COLUMNS_HELP, InputError, RecordFile, Row
from catalog_import.client import AsyncCatalogImportClient, AsyncImportSession, CatalogImportError, Status

EXIT_OK = 0
"""Every record was imported (or, with --no-commit / --no-wait, pushed)."""
EXIT_FAILED = 1
"""Some records failed: a row that could not be read, a record rejected at push, a failure at commit."""
EXIT_USAGE = 2
"""Wrong options, or a file that cannot be read as records; nothing was pushed."""
EXIT_SERVER = 3
"""The server could not be reached, refused the credentials, or answered with an unexpected error."""
EXIT_INTERRUPTED = 130
"""Stopped with Ctrl-C."""

EXIT_CODES_HELP = """\
Exit codes: 0 everything imported (with --no-commit or --no-wait: pushed); 1 some records failed (a cell
that does not fit its column, rejected at push, failed at commit); 2 wrong options, or a file that cannot
be read as records (nothing was pushed); 3 the server could not be reached or answered with an error;
130 interrupted."""

PUSH_HELP = f"""Import a file of products: push it in batches, commit, wait, and list what failed.

A JSON Lines file (.jsonl, .ndjson) holds one product record per line, exactly as the API takes it. A CSV
file (.csv, .tsv) holds one product per row.

{CSV_COLUMNS_HELP}

The file is read once before anything is pushed: a line that is not a record (not a JSON object, a CSV row
with more or fewer cells than the header) stops the run, and nothing is pushed. Rows whose cells do not
fit their columns, and records the server rejects, are listed with their line and not sent; the rest is
imported. Category paths the products name are created (--no-create-categories: they must exist).

The next run: --retry IMPORT_ID starts the retry of a done import, with its failed and skipped records
pushed again as they were first pushed, pushes FILE into it as corrections if one is given, commits and
waits. A file written by --failures-file can be pushed again as it is (each line's record is pushed).

The server and credentials come from --url, --client-id and --client-secret, or from CATALOG_IMPORT_URL,
CATALOG_IMPORT_CLIENT_ID and CATALOG_IMPORT_CLIENT_SECRET.

{EXIT_CODES_HELP}"""

MALFORMED_SHOWN = 10
"""Lines that are not records listed in the error, when a file has some."""
ERROR_SEVERITY = 3
"""RFC 5424 ``error``: problems at this severity or worse make a record fail; warnings do not."""
SPLIT_CODES = {"PAYLOAD_TOO_LARGE", "BATCH_TOO_LARGE"}
"""Answers to a push that was too big for the server's limits: the batch is sent again in halves."""


class UsageError(Exception):
    """The options cannot be used (an --import-id that names no open import); nothing was pushed."""


@dataclass
class PushOptions:
    file_format: str | None = None
    delimiter: str | None = None
    name: str | None = None
    import_id: str | None = None
    """Push into this open import instead of starting one."""
    retry_of: str | None = None
    """Start the retry of this done import (its failed and skipped records pushed again) and push into it."""
    batch_size: int = 1000
    parallel: int = 1
    commit: bool = True
    wait: bool = True
    create_categories: bool = True
    defer_references: bool = False
    skip_failed_media: bool = False
    show_failures: int = 20
    failures_file: Path | None = None
    poll_seconds: float = 0.5


@dataclass
class Failure:
    """A record that failed: at which stage (``file``: the row could not be made into a record; ``push``:
    the server rejected it; ``commit``: the workers could not write it), the line of the file it came
    from, what it is (``label``: a product number or id, ``category …``, ``import``), the problems
    (``code``, ``message``, ``severity``, ``path``…), and the product record as it was pushed, when there
    is one (a failures file can be corrected and pushed again, see ``cli.files``)."""

    stage: str
    line: int | None
    label: str
    details: list[dict[str, Any]]
    id: str | None = None
    record: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "line": self.line,
            "label": self.label,
            "id": self.id,
            "details": self.details,
            "record": self.record,
        }


@dataclass
class PushOutcome:
    import_id: str | None = None
    rows: int = 0
    """Rows read from the file, those that could not be made into records included."""
    staged: int = 0
    """Products the server staged."""
    rejected: int = 0
    """Rows that could not be made into records, and products the server rejected at push."""
    categories: int = 0
    """Category records staged for the paths the products name."""
    retried: int = 0
    """Records of the import retried (``--retry``) that the server staged again."""
    push_failures: int = 0
    """Everything that failed before the commit: ``rejected`` and categories the server rejected."""
    status: Status | None = None
    """The import's final status, when the commit was waited for."""
    failures: list[Failure] = field(default_factory=list)
    """The first failures, for the table."""

    @property
    def commit_failures(self) -> int:
        return self.status.totals.failures if self.status else 0

    @property
    def exit_code(self) -> int:
        failed = self.push_failures or self.commit_failures
        cancelled = self.status is not None and self.status.status == "cancelled"
        return EXIT_FAILED if failed or cancelled else EXIT_OK


class Lines:
    """The lines of the file that the records of one push came from, by position in the push. Kept as
    runs of consecutive lines, so that most pushes cost a couple of numbers however big they are."""

    def __init__(self, lines: Iterable[int]) -> None:
        self._positions: list[int] = []
        self._starts: list[int] = []
        previous: int | None = None
        for position, line in enumerate(lines):
            if previous is None or line != previous + 1:
                self._positions.append(position)
                self._starts.append(line)
            previous = line

    def __getitem__(self, position: int) -> int:
        run = bisect.bisect_right(self._positions, position) - 1
        return self._starts[run] + position - self._positions[run]


@dataclass
class Pushed:
    """What one push (a server batch) carried: the lines of its records, and for categories their paths."""

    lines: Lines
    labels: list[str] | None = None


def record_label(record: dict[str, Any]) -> str:
    return str(record.get("productNumber") or record.get("id") or "")


def category_label(path: tuple[str, ...]) -> str:
    return "category " + " > ".join(path)


def problem(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "severity": "error", "severityCode": ERROR_SEVERITY}


def position_in(path: str | None) -> int | None:
    """The position in its push of the record at ``path``: ``products.12`` and
    ``products.12.variantOverrides.0`` → 12."""
    parts = (path or "").split(".")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


class FilePush:
    """One run of ``push``: start an import, push the file, commit and wait (as the options say)."""

    def __init__(
        self,
        client: AsyncCatalogImportClient,
        source: RecordFile | None,
        options: PushOptions,
        console: Console,
        report: IO[str] | None = None,
    ) -> None:
        self.client = client
        self.source = source
        self.options = options
        self.console = console
        self.report = report
        self.outcome = PushOutcome()
        self.pushed: dict[int, Pushed] = {}
        self.known_categories: set[tuple[str, ...]] = set()
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    async def run(self) -> PushOutcome:
        if self.options.import_id:
            session = await self.open_import(self.options.import_id)
        elif self.options.retry_of:
            session = await self.start_retry(self.options.retry_of)
        else:
            assert self.source is not None
            name = (self.options.name or f"push {self.source.path.name}")[:255]
            config: dict[str, object] = {}
            if self.options.defer_references:
                config["deferReferences"] = True
            if self.options.skip_failed_media:
                config["mediaFailure"] = "skip"
            session = await self.client.start_session(name, **config)
            self.console.print(Text.assemble("Import ", (session.id, "bold"), f" started ({name})"))
        self.outcome.import_id = session.id
        try:
            if self.source is not None:
                await self.push_file(session, self.source)
        except BaseException:
            await self.abandon(session)
            raise
        if self.options.commit:
            await session.commit()
            if self.options.wait:
                try:
                    self.outcome.status = await self.follow_commit(session)
                except asyncio.CancelledError:
                    self.console.print(f"Stopped waiting; import {session.id} goes on on the server.")
                    raise
                await self.collect_commit_failures(session)
        return self.outcome

    async def open_import(self, import_id: str) -> AsyncImportSession:
        """The open import ``--import-id`` names: one of this integration, not committed nor cancelled."""
        session = self.client.session(import_id)
        try:
            status = await session.status()
        except CatalogImportError as error:
            if error.status_code in (404, 422):
                raise UsageError(f"--import-id {import_id}: this integration has no such import") from error
            raise
        if status.status != "started":
            raise UsageError(
                f"--import-id {import_id}: the import is {status.status}; only an import that is not "
                "committed yet takes more records"
            )
        name = status.name
        self.console.print(Text.assemble("Pushing into import ", (session.id, "bold"), f" ({name})"))
        return session

    async def start_retry(self, import_id: str) -> AsyncImportSession:
        """Start the retry of the done import ``--retry`` names: a new import holding its failed and skipped
        records again; those the server refuses now are push failures."""
        try:
            session, result = await self.client.session(import_id).retry(name=self.options.name)
        except CatalogImportError as error:
            if error.status_code in (404, 422):
                raise UsageError(f"--retry {import_id}: this integration has no such import") from error
            if error.code in ("IMPORT_NOT_DONE", "NOTHING_TO_RETRY"):
                raise UsageError(f"--retry {import_id}: {error.message}") from error
            raise
        self.console.print(
            Text.assemble(
                "Import ",
                (session.id, "bold"),
                f" started: the retry of {import_id}, with {len(result.records)} of its records again",
            )
        )
        for entry in result.records:
            errors = [
                error.model_dump(mode="json", by_alias=True)
                for error in entry.errors
                if error.severity_code <= ERROR_SEVERITY
            ]
            origin = entry.origin
            where = f"{entry.entity} {origin.path} of batch {origin.batch}" if origin else entry.path
            if errors:
                self.fail(Failure("push", None, where, errors, entry.id.hex if entry.id else None))
            else:
                self.outcome.retried += 1
        return session

    async def abandon(self, session: AsyncImportSession) -> None:
        """Cancel an import this run started whose pushing could not finish, so that half a file is never
        committed. An import given with ``import_id`` holds what other runs pushed: it is left open."""
        if self.options.import_id:
            self.console.print(
                f"Import {session.id} left open, not committed; part of the file may be in it."
            )
            return
        try:
            await asyncio.wait_for(session.cancel(), timeout=10)
        except Exception:
            self.console.print(f"Import {session.id} left open, not committed.")
        else:
            self.console.print(f"Import {session.id} cancelled: nothing of the file was committed.")

    # -- pushing ----------------------------------------------------------------------------------------
    async def push_file(self, session: AsyncImportSession, source: RecordFile) -> None:
        progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[staged]} pushed, {task.fields[rejected]} rejected"),
            TimeElapsedColumn(),
            console=self.console,
        )
        in_flight: set[asyncio.Task[None]] = set()
        with progress:
            self._progress = progress
            self._task = progress.add_task(
                f"Pushing {source.path.name}", total=source.size or 1, staged=0, rejected=0
            )
            try:
                records: list[dict[str, Any]] = []
                lines: list[int] = []
                for row in source:
                    self.outcome.rows += 1
                    if row.record is None:
                        self.outcome.rejected += 1
                        self.fail(
                            Failure("file", row.line, row.key, [problem("INVALID_ROW", row.error or "")])
                        )
                        continue
                    records.append(row.record)
                    lines.append(row.line)
                    if len(records) >= self.options.batch_size:
                        await self.dispatch(session, records, lines, in_flight)
                        records, lines = [], []
                if records:
                    await self.dispatch(session, records, lines, in_flight)
                while in_flight:
                    await self.settle_one(in_flight)
            finally:
                for task in in_flight:
                    task.cancel()
                if in_flight:
                    await asyncio.gather(*in_flight, return_exceptions=True)
                self.refresh()

    async def dispatch(
        self,
        session: AsyncImportSession,
        records: list[dict[str, Any]],
        lines: list[int],
        in_flight: set[asyncio.Task[None]],
    ) -> None:
        if self.options.create_categories:
            # Awaited before the products go, so that every push after it finds the categories staged.
            await self.push_categories(session, records, lines)
        while len(in_flight) >= self.options.parallel:
            await self.settle_one(in_flight)
        in_flight.add(asyncio.create_task(self.push_products(session, records, lines)))
        self.refresh()

    @staticmethod
    async def settle_one(in_flight: set[asyncio.Task[None]]) -> None:
        done, _ = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            in_flight.discard(task)
            task.result()  # a push that failed stops the run

    async def push_products(
        self, session: AsyncImportSession, records: list[dict[str, Any]], lines: list[int]
    ) -> None:
        await self.push_batch(session, "products", records, lines, None)
        self.refresh()

    async def push_categories(
        self, session: AsyncImportSession, records: list[dict[str, Any]], lines: list[int]
    ) -> None:
        """Push the categories on the paths these records name that no earlier batch named, parents first
        (records earlier in one body count as staged for those after them)."""
        paths: list[tuple[str, ...]] = []
        first_lines: list[int] = []
        for record, line in zip(records, lines, strict=True):
            references = record.get("categories")
            for reference in references if isinstance(references, list) else []:
                path = reference.get("path") if isinstance(reference, dict) else None
                if not isinstance(path, list) or not all(isinstance(name, str) and name for name in path):
                    continue
                for depth in range(1, len(path) + 1):
                    key = tuple(path[:depth])
                    if key not in self.known_categories:
                        self.known_categories.add(key)
                        paths.append(key)
                        first_lines.append(line)
        size = self.options.batch_size
        for start in range(0, len(paths), size):
            chunk = paths[start : start + size]
            body = [
                {"name": key[-1], **({"parent": list(key[:-1])} if len(key) > 1 else {})} for key in chunk
            ]
            labels = [category_label(key) for key in chunk]
            await self.push_batch(session, "categories", body, first_lines[start : start + size], labels)

    async def push_batch(
        self,
        session: AsyncImportSession,
        collection: str,
        records: list[dict[str, Any]],
        lines: list[int],
        labels: list[str] | None,
    ) -> None:
        """Push records of one collection (``labels`` name them, else their product number). A batch over
        the server's limits is sent again in halves; a single record over them fails on its own."""
        try:
            if collection == "products":
                result = await session.add_records(products=records)
            else:
                result = await session.add_records(categories=records)
        except CatalogImportError as error:
            if error.code not in SPLIT_CODES:
                raise
            if len(records) == 1:
                label = labels[0] if labels else record_label(records[0])
                details = [problem(error.code, error.message)]
                record = None if labels else records[0]
                self.reject(collection, Failure("push", lines[0], label, details, record=record))
                return
            half = len(records) // 2
            for part in (slice(None, half), slice(half, None)):
                await self.push_batch(
                    session, collection, records[part], lines[part], labels[part] if labels else None
                )
            return
        self.pushed[result.batch] = Pushed(Lines(lines), labels)
        for entry in result.records:
            position = position_in(entry.path)
            if position is None or position >= len(records):
                continue
            errors = [
                error.model_dump(mode="json", by_alias=True)
                for error in entry.errors
                if error.severity_code <= ERROR_SEVERITY
            ]
            if errors:
                label = labels[position] if labels else record_label(records[position])
                record = None if labels else records[position]
                self.reject(collection, Failure("push", lines[position], label, errors, record=record))
            elif collection == "products":
                self.outcome.staged += 1
            else:
                self.outcome.categories += 1

    def reject(self, collection: str, failure: Failure) -> None:
        """A record the server would not stage (categories rejected are push failures, not rows)."""
        if collection == "products":
            self.outcome.rejected += 1
        self.fail(failure)

    def fail(self, failure: Failure) -> None:
        self.outcome.push_failures += 1
        self.note(failure)

    def note(self, failure: Failure) -> None:
        if len(self.outcome.failures) < self.options.show_failures:
            self.outcome.failures.append(failure)
        if self.report is not None:
            self.report.write(json.dumps(failure.as_json(), ensure_ascii=False) + "\n")

    def refresh(self) -> None:
        if self._progress is not None and self._task is not None and self.source is not None:
            self._progress.update(
                self._task,
                completed=self.source.bytes_read,
                staged=self.outcome.staged,
                rejected=self.outcome.rejected,
            )

    # -- the commit -------------------------------------------------------------------------------------
    async def follow_commit(self, session: AsyncImportSession) -> Status:
        progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=self.console,
        )
        with progress:
            task = progress.add_task("Committing", total=None, detail="")
            while True:
                status = await session.status()
                total, processed = status.progress.total, status.progress.processed
                detail = f"{processed}/{total} records"
                if status.progress.level is not None:
                    detail += f", level {status.progress.level}"
                if status.status in ("done", "cancelled"):
                    progress.update(task, total=total or 1, completed=total or 1, detail=f"{total} records")
                    return status
                progress.update(task, total=total or None, completed=processed, detail=detail)
                await asyncio.sleep(self.options.poll_seconds)

    async def collect_commit_failures(self, session: AsyncImportSession) -> None:
        """Page through the failures of the commit, as many as the table shows (all of them when they go
        to a file too), each with its record as it was pushed, name them by the lines they came from, and
        note them."""
        if not self.outcome.commit_failures:
            return
        wanted = self.options.show_failures - len(self.outcome.failures)
        found: list[Failure] = []
        cursor: str | None = None
        while self.report is not None or len(found) < wanted:
            params: dict[str, Any] = {
                "minSeverity": "error",
                "limit": 1000 if self.report else 100,
                "include": "record",
            }
            if cursor:
                params["cursor"] = cursor
            page = await self.client.request("GET", f"/api/import/{session.id}/failures", params=params)
            found.extend(self.commit_failure(failure) for failure in page["items"])
            cursor = page.get("nextCursor")
            if not cursor:
                break
        for failure in found:
            self.note(failure)

    def commit_failure(self, failure: dict[str, Any]) -> Failure:
        """A failure at commit, at the line its record came from (none for a record a retry pushed again),
        named by its product number (a category by its path)."""
        pushed = self.pushed.get(failure.get("batch") or 0)
        position = position_in(failure.get("path"))
        line = label = None
        if pushed is not None and position is not None:
            line = pushed.lines[position]
            if pushed.labels is not None and position < len(pushed.labels):
                label = pushed.labels[position]
        given = failure.get("record")
        record = given if failure["entity"] == "product" and isinstance(given, dict) else None
        if label is None and record is not None:
            label = record_label(record)
        if not label:
            label = failure["entity"] if failure["entity"] == "import" else str(failure.get("id") or "")
        return Failure("commit", line, label, failure["details"], failure.get("id"), record)


# -- the command ------------------------------------------------------------------------------------------


def check_file(path: Path, options: PushOptions, console: Console) -> int:
    """Read the whole file once, before anything is pushed: the number of rows in it. Raises ``InputError``
    when the file cannot be read, when lines of it are not records of its format (the first of them are
    listed), or when it holds no records at all (allowed with ``import_id``: that import is committed)."""
    malformed: list[Row] = []
    rows = bad = 0
    progress = Progress(
        TextColumn("  {task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    with RecordFile(path, options.file_format, delimiter=options.delimiter) as source, progress:
        task = progress.add_task(f"Checking {path.name}", total=source.size or 1)
        for row in source:
            rows += 1
            if row.malformed:
                bad += 1
                if len(malformed) < MALFORMED_SHOWN:
                    malformed.append(row)
            if rows % 1000 == 0:
                progress.update(task, completed=source.bytes_read)
    if bad:
        listed = [f"  line {row.line}: {row.error}" for row in malformed]
        if bad > len(malformed):
            listed.append(f"  … and {bad - len(malformed)} more")
        lines = "1 line" if bad == 1 else f"{bad} lines"
        raise InputError(
            f"{path.name}: {lines} cannot be read as records, so nothing was pushed; fix the file and run "
            "again.\n" + "\n".join(listed)
        )
    if not rows and not options.import_id and not options.retry_of:
        raise InputError(f"{path.name} holds no records; nothing to import")
    return rows


def server_problem(error: Exception, url: str) -> str:
    if isinstance(error, CatalogImportError):
        hint = " (check --client-id and --client-secret)" if error.code == "INVALID_CLIENT" else ""
        return f"the server at {url} answered {error.status_code} {error.code}: {error.message}{hint}"
    if isinstance(error, httpx.TimeoutException):
        return f"the server at {url} did not answer in time"
    return f"cannot reach the server at {url}: {error}"


ENTITIES = [("product", "products"), ("category", "categories"), ("media", "media"), ("tax", "taxes")]


def counted(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def summary(outcome: PushOutcome, options: PushOptions, console: Console) -> None:
    """Print what happened to the import, then the failures table."""
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    if options.retry_of:
        table.add_row("pushed again", f"{outcome.retried} (the retry of {options.retry_of})")
    table.add_row("records in the file", str(outcome.rows))
    pushed = counted(outcome.staged, "product", "products")
    if outcome.categories:
        pushed += f", {counted(outcome.categories, 'category', 'categories')}"
    table.add_row("pushed", pushed)
    table.add_row("rejected at push", str(outcome.rejected))
    status = outcome.status
    if status is not None:
        totals = status.totals.model_dump()
        written = [
            counted(totals[entity], entity, plural) for entity, plural in ENTITIES if totals.get(entity)
        ]
        table.add_row("written", ", ".join(written) or "nothing")
        table.add_row("failed at commit", str(outcome.commit_failures))
        title = f"Import {outcome.import_id} {status.status} in {status.duration:.1f} s"
    elif options.commit:
        title = f"Import {outcome.import_id} committed; the workers go on"
    else:
        title = f"Import {outcome.import_id} left open, not committed"
    console.print()
    console.print(Text(title, style="bold"))
    console.print(table)
    if status is None and options.commit:
        console.print(Text(f"Follow it with GET /api/import/{outcome.import_id}/status"))
    elif status is None:
        console.print(
            Text(
                f"Push more into it with `push FILE --import-id {outcome.import_id}`, commit it with "
                f"POST /api/import/{outcome.import_id}/commit, or cancel it with POST …/cancel."
            )
        )
    total = outcome.push_failures + outcome.commit_failures
    if outcome.failures:
        shown = len(outcome.failures)
        title = f"Failures ({total})" if shown >= total else f"Failures (the first {shown} of {total})"
        failures = Table(title=title, title_justify="left")
        failures.add_column("line", justify="right")
        failures.add_column("record", overflow="fold")
        failures.add_column("stage")
        failures.add_column("code", overflow="fold")
        failures.add_column("message", ratio=1, overflow="fold")
        for failure in outcome.failures:
            codes = list(dict.fromkeys(str(detail.get("code", "")) for detail in failure.details))
            first = failure.details[0] if failure.details else {}
            message = str(first.get("message", ""))
            path = first.get("path")
            # A problem's path inside the record: products.3.categories.0 → categories.0.
            inside = path.split(".", 2)[2] if isinstance(path, str) and path.count(".") >= 2 else None
            failures.add_row(
                Text(str(failure.line) if failure.line is not None else ""),
                Text(failure.label),
                Text(failure.stage),
                Text("\n".join(codes)),
                Text(f"{inside}: {message}" if inside else message),
            )
        console.print()
        console.print(failures)
    if options.failures_file is not None and total:
        console.print(Text(f"Every failure is in {options.failures_file}"))


@contextlib.contextmanager
def open_report(path: Path | None) -> Iterator[IO[str] | None]:
    if path is None:
        yield None
        return
    try:
        report = path.open("w", encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot write {path}: {error.strerror or error}") from error
    with report:
        yield report


async def push_command(
    url: str,
    client_id: str,
    client_secret: str,
    path: Path | None,
    options: PushOptions,
    *,
    console: Console,
    progress_console: Console,
) -> PushOutcome:
    """Push ``path`` (checked with ``check_file`` first, unless it is known to be good; none with
    ``--retry``) to the server at ``url`` and print the summary. Raises ``InputError`` for a file that
    cannot be read, ``UsageError`` for options that cannot be used, ``CatalogImportError`` and
    ``httpx.HTTPError`` when the server fails the run."""
    with contextlib.ExitStack() as files:
        report = files.enter_context(open_report(options.failures_file))
        source = None
        if path is not None:
            source = files.enter_context(RecordFile(path, options.file_format, delimiter=options.delimiter))
        async with AsyncCatalogImportClient(url, client_id, client_secret) as client:
            outcome = await FilePush(client, source, options, progress_console, report).run()
    summary(outcome, options, console)
    return outcome


def check_options(path: Path | None, options: PushOptions) -> None:
    """A file, or ``--retry`` (with a file of corrections or without); never both ``--retry`` and
    ``--import-id``."""
    if options.retry_of and options.import_id:
        raise UsageError("--retry starts an import of its own: it cannot push into --import-id")
    if path is None and not options.retry_of:
        raise UsageError("give a FILE of products to push, or --retry IMPORT_ID")


def run_push(url: str, client_id: str, client_secret: str, path: Path | None, options: PushOptions) -> int:
    """``catalog-import push``: the exit code (see ``EXIT_CODES_HELP``)."""
    console, errors = Console(), Console(stderr=True)
    try:
        check_options(path, options)
        if path is not None:
            check_file(path, options, errors)
        outcome = asyncio.run(
            push_command(
                url, client_id, client_secret, path, options, console=console, progress_console=errors
            )
        )
    except (InputError, UsageError) as error:
        errors.print(Text.assemble(("error: ", "red"), str(error)))
        return EXIT_USAGE
    except (CatalogImportError, httpx.HTTPError) as error:
        errors.print(Text.assemble(("error: ", "red"), server_problem(error, url)))
        return EXIT_SERVER
    except KeyboardInterrupt:
        errors.print("Interrupted.")
        return EXIT_INTERRUPTED
    return outcome.exit_code
