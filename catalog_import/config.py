"""Server settings, read from the environment (prefix ``CATALOG_IMPORT_``), built once and passed in."""

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from catalog_import.ratelimit import parse_rate_limit


class Settings(BaseSettings):
    """Everything the API and the workers can be configured with."""

    # An empty variable counts as unset, so a deployment may pass ``${VAR:-}`` through.
    model_config = SettingsConfigDict(env_prefix="CATALOG_IMPORT_", extra="ignore", env_ignore_empty=True)

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL (postgresql://…). Unset: an embedded PostgreSQL under data_dir.",
    )
    redis_url: str | None = Field(
        default=None, description="Redis URL (redis://…). Unset: an embedded Redis under data_dir."
    )
    data_dir: Path = Field(default=Path("var"), description="Embedded databases and stored files.")

    secret_key: SecretStr | None = Field(
        default=None,
        description="Key that signs access tokens. Unset: one is generated and kept in the database.",
    )
    token_ttl_seconds: int = Field(default=600, ge=30, le=86_400)
    bootstrap_client_id: str | None = None
    bootstrap_client_secret: SecretStr | None = None

    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    rate_limit: str = Field(
        default="1200/minute",
        description="Requests per integration, e.g. 1200/minute or 50/second; off: no limit.",
    )
    sign_in_failure_limit: str = Field(
        default="10/minute",
        description="Wrong secrets per client id and caller address (token requests and dashboard sign-ins) "
        "before every attempt gets 429 until the window has passed; off: no limit.",
    )
    request_timeout_seconds: float = Field(
        default=60.0, gt=0, description="Longest time a request may take before it is answered 503."
    )
    api_processes: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Processes `catalog-import serve` runs the API in (`--processes`); one of them runs "
        "the in-process import worker. Each takes up to PUSH_CONCURRENCY pushes at once.",
    )
    max_records_per_push: int = Field(default=1000, ge=1)
    max_staged_records_per_push: int = Field(
        default=10_000,
        ge=1,
        description="Records one push may stage once generated variants and nested records are counted; "
        "more: 422 BATCH_TOO_LARGE. Bounds the API's memory however small the body.",
    )
    push_concurrency: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Pushes one API process works on at once; others wait their turn once their body has "
        "arrived. The memory of parsed bodies stays bounded however many clients push.",
    )
    pushes_per_integration: int = Field(
        default=4,
        ge=1,
        le=256,
        description="Pushes of one integration one API process takes at once, from their first byte to "
        "their answer; more wait. A client whose bodies are slow holds only its own integration's turns.",
    )
    push_body_timeout_seconds: float = Field(
        default=30.0, gt=0, description="Longest time a push body may take to arrive (408 BODY_TIMEOUT)."
    )

    commit_batch_size: int = Field(default=2500, ge=1, le=10_000)
    commit_media_batch_size: int = Field(
        default=20,
        ge=1,
        le=10_000,
        description="Media records per batch (or a hundredth of a level's media, if more).",
    )
    commit_media_batches_at_once: int = Field(
        default=4,
        ge=1,
        le=32,
        description="Batches of media a job writes at once, their downloads overlapping.",
    )
    commit_jobs_per_import: int = Field(
        default=2, ge=1, le=64, description="Jobs queued per committed import; idle workers share them."
    )
    worker_max_jobs: int = Field(default=4, ge=1)
    worker_metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Port on which `catalog-import worker` serves its Prometheus metrics; unset: not served.",
    )
    worker_metrics_host: str = Field(
        default="127.0.0.1", description="Address the worker's metrics server listens on."
    )
    runner_lease_seconds: float = Field(
        default=6.0,
        ge=1,
        le=600,
        description="How long a job's lease on an import lasts unless its worker renews it (three times "
        "per period): an import whose workers are gone is queued again about this long after.",
    )
    stalled_after_seconds: int = Field(
        default=60, ge=5, description="An importing import with no progress this long is queued again."
    )
    retention_days: int = Field(
        default=7,
        ge=1,
        description="Days after which finished imports, and imports never committed and idle, are purged.",
    )
    queue_name: str = "catalog-import"

    db_pool_size: int = Field(default=10, ge=1)

    media_url_upload_enabled: bool = Field(
        default=True, description="Download media from their URLs; off: media are skipped with a warning."
    )
    media_dir: Path | None = Field(
        default=None, description="Where media files are kept; unset: data_dir/media."
    )
    media_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Hosts media may be fetched from even at non-public addresses (comma separated).",
    )
    media_max_bytes: int = Field(default=50 * 1024 * 1024, ge=1)
    media_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    media_read_timeout_seconds: float = Field(default=20.0, gt=0)
    media_download_timeout_seconds: float = Field(
        default=300.0,
        gt=0,
        description="Longest time one media download may take, its retries included; then it fails.",
    )
    media_download_retries: int = Field(default=3, ge=0, le=10)
    media_retry_backoff_seconds: float = Field(default=0.5, ge=0)
    media_download_concurrency: int = Field(default=16, ge=1, le=256, description="Downloads per worker.")

    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, description="How long a webhook receiver has to answer one delivery."
    )
    webhook_max_attempts: int = Field(
        default=8, ge=1, le=20, description="Attempts per webhook message before it is given up."
    )
    webhook_retry_base_seconds: float = Field(
        default=5.0,
        ge=0,
        description="Wait after a webhook's first failed attempt; each further one waits four times longer.",
    )
    webhook_retry_max_seconds: float = Field(
        default=6 * 3600.0, ge=0, description="Longest wait between two attempts of a webhook message."
    )
    webhook_concurrency: int = Field(default=8, ge=1, le=256, description="Deliveries in flight per worker.")
    events_poll_seconds: float = Field(
        default=1.0, gt=0, le=60, description="How often an event stream looks for progress and failures."
    )

    @field_validator("media_allowed_hosts", mode="before")
    @classmethod
    def comma_separated(cls, value: object) -> object:
        return (
            [host.strip() for host in value.split(",") if host.strip()] if isinstance(value, str) else value
        )

    @field_validator("rate_limit", "sign_in_failure_limit")
    @classmethod
    def valid_rate_limit(cls, value: str) -> str:
        parse_rate_limit(value)  # raises ValueError with the reason
        return value

    @property
    def media_path(self) -> Path:
        return self.media_dir or self.data_dir / "media"

    log_level: str = "INFO"
    log_json: bool | None = Field(default=None, description="JSON logs; unset: JSON unless on a terminal.")
