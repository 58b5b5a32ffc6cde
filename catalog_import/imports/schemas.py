"""Request and response bodies of the import endpoints (CONTRACT §2, §3, §5)."""

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, HttpUrl, JsonValue

from catalog_import.ids import Id
from catalog_import.models import ImportStatus, MediaFailure, ValidationStatus
from catalog_import.schemas import NO_NUL, ApiModel, Timestamp

SeverityName = Literal["emergency", "alert", "critical", "error", "warning", "notice", "info", "debug"]


class ImportConfig(ApiModel):
    """The body of ``POST /api/import/catalog/start``."""

    # Only the camelCase names of the contract are accepted; anything else is an unknown field.
    model_config = ConfigDict(extra="forbid", populate_by_name=False)

    name: Annotated[
        str, Field(min_length=1, max_length=255, pattern=NO_NUL, examples=["product-import-20260712"])
    ]
    error_webhook_url: Annotated[HttpUrl, Field(max_length=2048)] | None = None
    status_webhook_url: Annotated[HttpUrl, Field(max_length=2048)] | None = None
    defer_references: bool = False
    media_failure: MediaFailure = Field(
        default=MediaFailure.FAIL,
        description='What a media that cannot be downloaded at commit does: "fail" fails the record it is '
        'nested in (NESTED_FAILED); "skip" leaves it out with a warning (MEDIA_DOWNLOAD_FAILED, '
        "MEDIA_URL_FORBIDDEN, MEDIA_TOO_LARGE or MEDIA_TYPE_NOT_ALLOWED) at its path, and the record is "
        "written without it.",
    )


class ImportOut(ApiModel):
    id: Id
    name: str
    status: ImportStatus
    start_time: Timestamp


class Problem(ApiModel):
    code: str = Field(examples=["CATEGORY_NOT_FOUND"])
    message: str
    path: str = Field(examples=["products.1.categories.0"])
    severity: SeverityName
    severity_code: int = Field(ge=0, le=7)


class RecordOrigin(ApiModel):
    """Where a record pushed again by a retry was in the import it retries."""

    batch: int = Field(ge=1)
    path: str = Field(examples=["products.3"])


class RecordResult(ApiModel):
    entity: str = Field(examples=["product"])
    path: str = Field(examples=["products.0"])
    id: Id | None
    action: Literal["create", "update", "delete", "unassign"] | None
    errors: list[Problem]
    origin: RecordOrigin | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="In the answer of a retry: the batch and path of the record in the import retried.",
    )


class PushResult(ApiModel):
    batch: int = Field(ge=1, description="The ordinal of this push within the import, 1-based.")
    contains_errors: bool
    records: list[RecordResult]


class RetryConfig(ApiModel):
    """The body of ``POST /api/import/{id}/retry``, which may be left out."""

    model_config = ConfigDict(extra="forbid", populate_by_name=False)

    name: Annotated[str, Field(min_length=1, max_length=255, pattern=NO_NUL)] | None = Field(
        default=None, description="The new import's name; by default the retried one's with \" (retry)\"."
    )


class RetryResult(ApiModel):
    """The answer of a retry: the new import, and what became of the records pushed into it again."""

    import_: ImportOut = Field(alias="import")
    records: PushResult


class FailureDetail(ApiModel):
    severity: SeverityName
    severity_code: int
    code: str
    entity: str
    path: str | None
    message: str


class Failure(ApiModel):
    entity: str
    id: Id | None
    path: str | None
    batch: int | None
    details: list[FailureDetail]
    record: JsonValue = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="With `include=record`: the root record as it was pushed (the item of its push body, a "
        "product with all its variants for a variant's failure), to correct and push again.",
    )


class Progress(ApiModel):
    total: int
    processed: int
    level: int | None
    levels: int | None


class Totals(ApiModel):
    product: int = 0
    media: int = 0
    category: int = 0
    tax: int = 0
    total: int = 0
    failures: int = 0


class WebhookCounts(ApiModel):
    """The import's webhook messages by delivery state."""

    delivered: int = 0
    failed: int = Field(default=0, description="Given up after every attempt failed.")
    pending: int = Field(default=0, description="Not delivered yet; retried with backoff.")
    last_error: str | None = Field(
        default=None,
        description="Why the latest message not delivered failed its last attempt: an HTTP status, a "
        "network error, or a receiver the address rules refuse (given up at once).",
        examples=["HTTP 503"],
    )


class EntityActions(ApiModel):
    """What an import's staged records of one entity will do at commit."""

    create: int = 0
    update: int = 0
    delete: int = 0
    unassign: int = 0


class ImportSummary(ApiModel):
    """An import's status without its failures (as listed by ``GET /api/import``)."""

    id: Id
    name: str
    status: ImportStatus
    start_time: Timestamp
    commit_time: Timestamp | None
    end_time: Timestamp | None
    duration: float
    progress: Progress
    totals: Totals
    webhooks: WebhookCounts
    actions: dict[str, EntityActions] = Field(
        default_factory=dict,
        description="Per entity, how many staged records (nested ones included) will create, update, delete "
        "or unassign at commit, from the first push on; entities without staged records are left out.",
    )
    last_progress_at: Timestamp | None = Field(
        default=None,
        description="While importing: when a worker last made progress on the import (its commit, before "
        "the first batch); null otherwise.",
    )
    stalled: bool = Field(
        default=False,
        description="While importing: no worker made progress for `STALLED_AFTER_SECONDS` (the import is "
        "queued again meanwhile).",
    )
    retry_of: Id | None = Field(
        default=None, description="The import this one retries (`POST /api/import/{id}/retry`)."
    )
    retried_by: list[Id] = Field(
        default_factory=list, description="The retries of this import, oldest first."
    )


class Validation(ApiModel):
    """The latest validation of an import (``POST /api/import/{id}/validate``): its commit rehearsed on
    the workers and rolled back."""

    status: ValidationStatus
    start_time: Timestamp
    end_time: Timestamp | None
    totals: Totals = Field(description="What the commit would write, and its failures (zeros while running).")
    failures: list[Failure] = Field(description="The first 100; `/failures?of=validation` gives them all.")
    failures_truncated: bool


class Status(ImportSummary):
    failures: list[Failure]
    failures_truncated: bool
    validation: Validation | None = Field(
        default=None, description="The latest validation of the import; null if it was never validated."
    )


class FailuresEvent(ApiModel):
    """Body of an ``import.failures`` webhook and of a ``failures`` event of the event stream."""

    type: Literal["import.failures"] = "import.failures"
    import_id: Id
    failures: list[Failure]


class DoneEvent(ApiModel):
    """Body of the ``import.done`` webhook: the import's final status without its failures."""

    type: Literal["import.done"] = "import.done"
    import_id: Id
    status: ImportSummary
