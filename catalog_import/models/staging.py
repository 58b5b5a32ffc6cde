"""The intermediate store: imports, their staged records (with level and references), the dependencies
between records and the batches computed at commit, what records came to, and the failures reported per
root record."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    column,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column

from catalog_import.models.base import Base, created_at_column


class ImportStatus(StrEnum):
    STARTED = "started"
    IMPORTING = "importing"
    DONE = "done"
    CANCELLED = "cancelled"


# The status of the copy an import's validation rehearses its commit on (``rehearsal_of``), outside the
# rehearsal's own transaction: no check, list or purge of imports takes it for one of theirs.
REHEARSAL_STATUS = "rehearsal"


class ValidationStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"


class MediaFailure(StrEnum):
    """What a media that cannot be downloaded does to the record it is nested in (``mediaFailure``)."""

    # The media fails, and with it its root record (``NESTED_FAILED``).
    FAIL = "fail"
    # The media is left out with a warning; its root is written without it.
    SKIP = "skip"


class Operation(StrEnum):
    """What a staged record asks for."""

    UPSERT = "upsert"
    UNASSIGN = "unassign"
    DELETE = "delete"


class RecordAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    UNASSIGN = "unassign"


class RecordState(StrEnum):
    PENDING = "pending"
    WRITTEN = "written"
    FAILED = "failed"
    # Not written because its root record, or a record it depends on, failed.
    SKIPPED = "skipped"


# The level a staged record starts at, in SQL over its ``operation`` and ``entity``: upserts at 0 (raised
# above what depends on them when the commit is prepared); unassigns (-1) and deletes (products -2,
# categories -3, media -4, taxes and custom entity records -5) after every upsert, dependents first.
# A staged record that downloads a file at commit (its media batches are cut apart, see ``ImportBatch``).
DOWNLOADS_SQL = "(entity = 'media' AND operation = 'upsert')"

INITIAL_LEVEL_SQL = """CASE
    WHEN operation = 'upsert' THEN 0
    WHEN operation = 'unassign' THEN -1
    WHEN entity = 'product' THEN -2
    WHEN entity = 'category' THEN -3
    WHEN entity = 'media' THEN -4
    ELSE -5 END"""


def in_done_batch(record: str) -> str:
    """SQL: whether the staged record ``record`` (an alias of ``import_records``) belongs to a batch that
    is done; one without an outcome that says otherwise is then written."""
    return f"""EXISTS (
        SELECT 1 FROM import_batches b
        WHERE b.import_id = {record}.import_id AND b.state = 'done' AND b.level = {record}.level
          AND {record}.record_id BETWEEN b.first_record AND b.last_record)"""  # noqa: S608 (an alias)


class Import(Base):
    __tablename__ = "imports"
    __table_args__ = (
        UniqueConstraint("integration_id", "idempotency_key"),
        Index("ix_imports_integration_id_id", "integration_id", "id"),
        Index("ix_imports_status_heartbeat_at", "status", "heartbeat_at"),
        # Finished imports past the retention period are found by this one.
        Index("ix_imports_status_end_time", "status", "end_time"),
        Index("ix_imports_retry_of", "retry_of", postgresql_where=text("retry_of IS NOT NULL")),
        Index("ix_imports_rehearsal_of", "rehearsal_of", postgresql_where=text("rehearsal_of IS NOT NULL")),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    integration_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default=ImportStatus.STARTED)
    error_webhook_url: Mapped[str | None] = mapped_column(Text)
    status_webhook_url: Mapped[str | None] = mapped_column(Text)
    defer_references: Mapped[bool] = mapped_column(Boolean, default=False)
    media_failure: Mapped[str] = mapped_column(
        String(8), default=MediaFailure.FAIL, server_default=MediaFailure.FAIL.value
    )
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    # Ordinal of the last push (record, record/delete, record/unassign) in this import.
    batch_count: Mapped[int] = mapped_column(Integer, default=0)
    # When the last push arrived; an import never committed is purged once it has been idle too long.
    last_push_at: Mapped[datetime | None]
    start_time: Mapped[datetime] = created_at_column()
    commit_time: Mapped[datetime | None]
    end_time: Mapped[datetime | None]
    # Set once the commit's preparation (deferred references, dependencies, levels) has run.
    prepared_at: Mapped[datetime | None]
    levels: Mapped[int | None] = mapped_column(Integer)
    # Last progress of a worker on this import; a stale one means nobody is working on it.
    heartbeat_at: Mapped[datetime | None]
    # The import this one retries (started holding its failed and skipped root records again).
    retry_of: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("imports.id", ondelete="SET NULL"))
    # The import whose validation this one is the copy of (status ``rehearsal``): it holds that import's
    # staged records while a worker rehearses their commit, is never shown, and goes when the rehearsal
    # ends (or with that import).
    rehearsal_of: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"))


class ImportRecord(Base):
    """A staged record: one root or extracted nested record, in its resolved form."""

    __tablename__ = "import_records"
    __table_args__ = (
        UniqueConstraint("import_id", "operation", "entity", "entity_id"),
        # A natural key is staged once per import, operation and entity (custom entity records share
        # their entity's name as theirs): concurrent pushes that would both create it conflict, and the
        # later one is resolved again. Checked at the end of each statement, so that one push may move a
        # key from one record to another.
        ExcludeConstraint(
            (column("import_id"), "="),
            (column("operation"), "="),
            (column("entity"), "="),
            (column("natural_key"), "="),
            name="ex_import_records_natural_key",
            using="btree",
            where=text("natural_key IS NOT NULL AND entity <> 'custom_entity'"),
            deferrable=True,
            initially="IMMEDIATE",
        ),
        Index("ix_import_records_level", "import_id", "level", "record_id"),
    )

    record_id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    import_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"))
    operation: Mapped[str] = mapped_column(String(16))
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[uuid.UUID]
    action: Mapped[str] = mapped_column(String(16))
    # The natural key the record is known by (tax name, category path, product number, media URL).
    natural_key: Mapped[str | None] = mapped_column(Text)
    # False for records extracted from another record (a nested creation); their failures are reported
    # under the root records that reference them.
    root: Mapped[bool] = mapped_column(Boolean, default=True)
    # Where the record was in its push, and that push's ordinal.
    path: Mapped[str] = mapped_column(Text)
    batch: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # The item of a push body this record was staged from, as it was pushed (its JSON, as text: it is never
    # queried into), to give back with its failures and to push again (CONTRACT §9.1, §9.2). Held by the
    # item's own record; the other root records staged from it (a product's variants) name that record
    # instead, by its ``entity_id`` among the upserts of its entity (``item_id``). Null for nested records.
    pushed: Mapped[str | None] = mapped_column(Text)
    item_id: Mapped[uuid.UUID | None]
    # References to other entities: [{"entity", "path", "id" | "key", "nested"}]; "key" when still pending.
    refs: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    level: Mapped[int] = mapped_column(SmallInteger, default=0)


class ImportRecordOutcome(Base):
    """What a staged record came to at commit, when there is something to say: failed, skipped, or written
    with warnings. A record without an outcome is pending until its batch is done, and written after."""

    __tablename__ = "import_record_outcomes"
    __table_args__ = (Index("ix_import_record_outcomes_import_id_state", "import_id", "state"),)

    record_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("import_records.record_id", ondelete="CASCADE"), primary_key=True
    )
    import_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"))
    entity: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    # The record's problems; a root record's failure quotes its nested records' ones.
    problems: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)


class RecordDependency(Base):
    """Record ``record_id`` needs ``depends_on`` written first (computed when the commit is prepared).

    Both are records of one import. There are no foreign keys: the rows are derived in bulk from the
    staged records, and the check per row cost more than the rest of preparing a commit; the purge
    deletes them with their records."""

    __tablename__ = "import_record_dependencies"
    __table_args__ = (Index("ix_import_record_dependencies_depends_on", "depends_on"),)

    record_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    depends_on: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    path: Mapped[str] = mapped_column(Text)
    nested: Mapped[bool] = mapped_column(Boolean)


class BatchState(StrEnum):
    PENDING = "pending"
    DONE = "done"
    # Left unwritten: the import was abandoned.
    SKIPPED = "skipped"


class ImportBatch(Base):
    """A batch of a committed import: a range of staged records of one level, cut when the commit is
    prepared, claimed by one runner at a time, and marked done in the transaction that writes it."""

    __tablename__ = "import_batches"
    __table_args__ = (
        Index("ix_import_batches_import_id_id", "import_id", "id"),
        Index(
            "ix_import_batches_pending",
            "import_id",
            "level",
            "first_record",
            postgresql_where=text("state = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    import_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"))
    # Null for batches written before batches were cut in advance.
    level: Mapped[int | None] = mapped_column(SmallInteger)
    first_record: Mapped[int | None] = mapped_column(BigInteger)
    last_record: Mapped[int | None] = mapped_column(BigInteger)
    # The records of the batch: when cut, those to write; once done, those it settled.
    records: Mapped[int] = mapped_column(Integer)
    # True: a batch of the level's media records (cut smaller, several written at once by one runner while
    # their downloads run); false: of its other records; null (cut before media were cut apart): of all.
    media: Mapped[bool | None] = mapped_column(Boolean)
    state: Mapped[str] = mapped_column(String(16), default=BatchState.PENDING)
    # When the batch was written, just before its transaction committed (not when it began).
    written_at: Mapped[datetime | None]


class RunnerLease(Base):
    """A job working on an import, for as long as its worker renews the lease: once every lease of an
    importing import has run out, its workers are gone and the import is queued again."""

    __tablename__ = "runner_leases"
    __table_args__ = (Index("ix_runner_leases_import_id", "import_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    import_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime]


class ImportRecordCount(Base):
    """A change in how many records of an import are in one entity and state: staged records are counted
    pending by the triggers on ``import_records`` (migrations 0011, 0014), what they come to by the
    committer with their outcomes. The sum of the rows is the count."""

    __tablename__ = "import_record_counts"
    __table_args__ = (Index("ix_import_record_counts_import_id", "import_id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    import_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"))
    entity: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    records: Mapped[int] = mapped_column(BigInteger)


class ImportRecordAction(Base):
    """A change in how many staged records of an import will create, update, delete or unassign entities
    of one kind, written by the triggers on ``import_records`` as records are staged and deleted (migration
    0018). The sum of the rows is the count (``status.actions``)."""

    __tablename__ = "import_record_actions"
    __table_args__ = (Index("ix_import_record_actions_import_id", "import_id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    import_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"))
    entity: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    records: Mapped[int] = mapped_column(BigInteger)


class ImportFailure(Base):
    """A failed root record and its problems (details), in the order they were found."""

    __tablename__ = "import_failures"
    __table_args__ = (UniqueConstraint("import_id", "number"),)

    failure_id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    import_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"))
    # The failure's number within its import (1, 2, 3…), in the order they were committed: the failures
    # cursor and the event stream's ids. The server-wide ``failure_id`` is never shown.
    number: Mapped[int] = mapped_column(Integer)
    # The failed root record; null for import-wide failures.
    record_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("import_records.record_id", ondelete="CASCADE"), unique=True
    )
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[uuid.UUID | None]
    path: Mapped[str | None] = mapped_column(Text)
    batch: Mapped[int | None] = mapped_column(Integer)
    # The most severe severity among the details (RFC 5424 code).
    severity_code: Mapped[int] = mapped_column(SmallInteger)
    details: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = created_at_column()


class ImportValidation(Base):
    """The latest validation of an import (CONTRACT §9.4): its commit rehearsed on a worker in a
    transaction that was rolled back, and what that came to."""

    __tablename__ = "import_validations"
    __table_args__ = (Index("ix_import_validations_status_heartbeat_at", "status", "heartbeat_at"),)

    import_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("imports.id", ondelete="CASCADE"), primary_key=True
    )
    # New for every validation: the job of one replaced since (by validating again) ends without a word.
    id: Mapped[uuid.UUID]
    status: Mapped[str] = mapped_column(String(16))
    start_time: Mapped[datetime]
    end_time: Mapped[datetime | None]
    # The import's last staged record when it started: it covers the records up to this one.
    last_record: Mapped[int] = mapped_column(BigInteger)
    # What it came to, as the status's totals (set when done).
    totals: Mapped[dict[str, int] | None] = mapped_column(JSONB)
    # Last sign of life of the worker rehearsing it; a stale one means it is queued again.
    heartbeat_at: Mapped[datetime | None]


class ImportValidationFailure(Base):
    """A failure the latest validation of an import found, as a commit would have recorded it."""

    __tablename__ = "import_validation_failures"
    __table_args__ = (UniqueConstraint("import_id", "number"),)

    failure_id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    import_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    # The staged record that failed (no key: records staged again keep theirs, and a cancelled import's
    # records go without looking here); null for import-wide failures.
    record_id: Mapped[int | None] = mapped_column(BigInteger)
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[uuid.UUID | None]
    path: Mapped[str | None] = mapped_column(Text)
    batch: Mapped[int | None] = mapped_column(Integer)
    severity_code: Mapped[int] = mapped_column(SmallInteger)
    details: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)


class WebhookState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookDelivery(Base):
    """A webhook message to deliver (an outbox row): written in the transaction that produced the event,
    then sent, and retried, by the workers' delivery loops. The payload is fixed when the row is written,
    so every attempt sends the same bytes under the same ``webhook-id``."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_import_id_event", "import_id", "event"),
        # What the delivery loops look for: pending messages by when they are due.
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("state = 'pending'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    import_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"))
    # ``import.failures`` or ``import.done``.
    event: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(Text)
    # The JSON body exactly as it is sent (and signed).
    payload: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default=WebhookState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = created_at_column()
    # Set while a delivery loop is sending it, so that no other loop sends it at the same time.
    leased_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
    delivered_at: Mapped[datetime | None]
