"""Server settings, read from the environment (prefix ``CATALOG_IMPORT_``), built once and passed in."""

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the API and the workers can be configured with."""

    model_config = SettingsConfigDict(env_prefix="CATALOG_IMPORT_", extra="ignore")

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
    max_records_per_push: int = Field(default=1000, ge=1)

    commit_batch_size: int = Field(default=500, ge=1, le=10_000)
    commit_jobs_per_import: int = Field(
        default=2, ge=1, le=64, description="Jobs queued per committed import; idle workers share them."
    )
    worker_max_jobs: int = Field(default=4, ge=1)
    stalled_after_seconds: int = Field(
        default=60, ge=5, description="An importing import with no progress this long is queued again."
    )
    queue_name: str = "catalog-import"

    db_pool_size: int = Field(default=10, ge=1)

    media_url_upload_enabled: bool = True

    log_level: str = "INFO"
    log_json: bool | None = Field(default=None, description="JSON logs; unset: JSON unless on a terminal.")
