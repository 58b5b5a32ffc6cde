"""What the dashboard shows, worked out once on the server for both the first render of a page and the
JSON it polls: an import's figures in words and numbers, and the throughput chart's bins and geometry."""

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from catalog_import.dashboard.repository import SettledBatch
from catalog_import.imports import schemas
from catalog_import.models import ImportStatus, ValidationStatus
from catalog_import.problems import Severity
from catalog_import.schemas import ApiModel

SEVERITIES = [severity.label for severity in Severity]
ENTITIES = ["product", "category", "media", "tax", "custom_entity", "import"]
TOTAL_ENTITIES = ["product", "category", "media", "tax"]
STATUS_LABELS = {
    ImportStatus.STARTED: "started",
    ImportStatus.IMPORTING: "importing",
    ImportStatus.DONE: "done",
    ImportStatus.CANCELLED: "cancelled",
}


def format_count(value: int) -> str:
    return f"{value:,}"


def format_duration(seconds: float) -> str:
    if seconds < 60:
        text = f"{seconds:.2f}" if seconds < 10 else f"{seconds:.1f}"
        return text.rstrip("0").rstrip(".") + " s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def format_rate(records_per_second: float | None) -> str:
    if records_per_second is None:
        return "—"
    if records_per_second >= 100:
        return f"{records_per_second:,.0f} records/s"
    return f"{records_per_second:.1f} records/s"


def format_time(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"


def level_text(progress: schemas.Progress) -> str:
    """Levels are written from the highest down to 0: level ``l`` of ``n`` levels is step ``n - l``."""
    if progress.level is None or not progress.levels:
        return f"{progress.levels} levels" if progress.levels else ""
    return f"level {progress.levels - progress.level} of {progress.levels}"


class EntityTotal(ApiModel):
    entity: str
    written: int


def validation_text(validation: schemas.Validation | None) -> str:
    """The latest validation in a sentence, or how to have one."""
    if validation is None:
        return "not validated: a validation rehearses the commit and writes nothing"
    if validation.status == ValidationStatus.RUNNING:
        return f"running since {format_time(validation.start_time)}"
    return f"done at {format_time(validation.end_time)}"


def validation_totals_text(validation: schemas.Validation | None) -> str:
    """What the commit would write, by the latest validation, once it is done."""
    if validation is None or validation.status != ValidationStatus.DONE:
        return "—"
    counts = {entity: getattr(validation.totals, entity) for entity in TOTAL_ENTITIES}
    return ", ".join(f"{entity} {format_count(n)}" for entity, n in counts.items() if n) or "nothing"


class ImportView(ApiModel):
    """One import as the pages and their JSON show it."""

    id: str
    name: str
    status: str
    status_label: str
    start_time: str
    commit_time: str
    end_time: str
    duration: float
    duration_text: str
    processed: int
    total: int
    percent: int
    progress_text: str
    level_text: str
    # What a screen reader says for the progress bar.
    progress_value_text: str
    throughput: float | None
    throughput_text: str
    totals: list[EntityTotal]
    totals_text: str
    written: int
    failures: int
    cancellable: bool
    active: bool
    stalled: bool
    # The latest validation: "" (none), running or done, in words, and what it found.
    validation_status: str = ""
    validation_text: str = ""
    validation_totals_text: str = "—"
    validation_failures: int = 0

    @classmethod
    def of(cls, summary: schemas.ImportSummary) -> "ImportView":
        progress = summary.progress
        validation = summary.validation if isinstance(summary, schemas.Status) else None
        committed = summary.commit_time is not None
        throughput = progress.processed / summary.duration if committed and summary.duration > 0 else None
        percent = math.floor(100 * progress.processed / progress.total) if progress.total else 0
        if summary.status == ImportStatus.DONE and progress.processed == progress.total:
            percent = 100
        totals = [
            EntityTotal(entity=entity, written=getattr(summary.totals, entity)) for entity in TOTAL_ENTITIES
        ]
        if committed:
            progress_text = f"{format_count(progress.processed)} of {format_count(progress.total)} records"
        elif summary.status == ImportStatus.CANCELLED:
            progress_text = "cancelled before the commit: nothing kept"
        else:
            progress_text = f"{format_count(progress.total)} records staged"
        return cls(
            id=summary.id.hex,
            name=summary.name,
            status=summary.status.value,
            # A stalled import says so where its status is shown (it is queued again meanwhile).
            status_label="importing, stalled" if summary.stalled else STATUS_LABELS[summary.status],
            start_time=format_time(summary.start_time),
            commit_time=format_time(summary.commit_time),
            end_time=format_time(summary.end_time),
            duration=summary.duration,
            duration_text=format_duration(summary.duration) if committed else "—",
            processed=progress.processed,
            total=progress.total,
            percent=percent,
            progress_text=progress_text,
            level_text=level_text(progress),
            progress_value_text=", ".join(
                part for part in (f"{percent}%", progress_text, level_text(progress)) if part
            ),
            throughput=round(throughput, 2) if throughput is not None else None,
            throughput_text=format_rate(throughput),
            totals=totals,
            totals_text=", ".join(f"{t.entity} {format_count(t.written)}" for t in totals if t.written)
            or "nothing written",
            written=summary.totals.total,
            failures=summary.totals.failures,
            cancellable=summary.status == ImportStatus.STARTED,
            active=summary.status in (ImportStatus.STARTED, ImportStatus.IMPORTING),
            stalled=summary.stalled,
            validation_status=validation.status.value if validation else "",
            validation_text=validation_text(validation),
            validation_totals_text=validation_totals_text(validation),
            validation_failures=validation.totals.failures if validation else 0,
        )


# -- throughput ---------------------------------------------------------------------------------------

BIN_SECONDS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200]
MAX_BINS = 60
CHART_WIDTH, CHART_HEIGHT = 640, 220
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 64, 628, 12, 188


@dataclass(frozen=True, slots=True)
class Bin:
    start: float  # seconds after the commit
    seconds: float
    records: int

    @property
    def rate(self) -> float:
        return self.records / self.seconds

    @property
    def start_text(self) -> str:
        return format_duration(self.start)

    @property
    def rate_text(self) -> str:
        return format_rate(self.rate)


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str


@dataclass(frozen=True, slots=True)
class Throughput:
    """Records settled per second over the time since the commit, in bins of equal width."""

    bins: list[Bin]
    span_seconds: float
    bin_seconds: float

    @property
    def empty(self) -> bool:
        return not any(b.records for b in self.bins)

    @property
    def peak(self) -> float:
        return max((b.rate for b in self.bins), default=0.0)

    @property
    def scale_max(self) -> float:
        """The rate at the top of the chart: the peak rounded up to 1, 2 or 5 times a power of ten."""
        peak = self.peak
        if peak <= 0:
            return 1.0
        power = 10 ** math.floor(math.log10(peak))
        return float(next(step * power for step in (1, 2, 5, 10) if step * power >= peak))

    @property
    def bars(self) -> list[Bar]:
        if not self.bins:
            return []
        width = (PLOT_RIGHT - PLOT_LEFT) / len(self.bins)
        top = self.scale_max
        bars = []
        for index, item in enumerate(self.bins):
            height = (PLOT_BOTTOM - PLOT_TOP) * item.rate / top
            bars.append(
                Bar(
                    x=round(PLOT_LEFT + index * width, 2),
                    y=round(PLOT_BOTTOM - height, 2),
                    width=round(max(width - 1, 0.5), 2),
                    height=round(height, 2),
                    label=f"{format_duration(item.start)}–{format_duration(item.start + item.seconds)}: "
                    f"{format_rate(item.rate)}",
                )
            )
        return bars

    @property
    def peak_text(self) -> str:
        return format_rate(self.peak)

    @property
    def scale_text(self) -> str:
        return format_rate(self.scale_max)

    @property
    def span_text(self) -> str:
        return format_duration(self.span_seconds)

    @property
    def bin_text(self) -> str:
        return format_duration(self.bin_seconds)


def throughput(batches: list[SettledBatch], since: datetime, until: datetime) -> Throughput:
    span = max((until - since).total_seconds(), 0.0)
    width = next((s for s in BIN_SECONDS if span / s <= MAX_BINS), BIN_SECONDS[-1])
    count = max(1, math.ceil(span / width))
    records = [0] * count
    for batch in batches:
        offset = (batch.at - since) / timedelta(seconds=1)
        records[min(max(int(offset // width), 0), count - 1)] += batch.records
    # The last bin may be cut short by now (or by the end): its rate is over the time it covers, at least
    # half a bin, so that a batch just written does not show as a spike.
    bins = [Bin(i * width, max(min(width, span - i * width), width / 2), n) for i, n in enumerate(records)]
    return Throughput(bins, span, width)
