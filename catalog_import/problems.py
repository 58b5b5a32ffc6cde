"""Record-level problems: RFC 5424 severities and the problem entries of push results and failures."""

from dataclasses import dataclass
from enum import IntEnum
from typing import Any


class Severity(IntEnum):
    """RFC 5424 severities; a lower number is more severe."""

    EMERGENCY = 0
    ALERT = 1
    CRITICAL = 2
    ERROR = 3
    WARNING = 4
    NOTICE = 5
    INFO = 6
    DEBUG = 7

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str) -> "Severity":
        return cls[label.upper()]


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem of a record, at a path of the request body."""

    code: str
    message: str
    path: str
    severity: Severity = Severity.ERROR
    entity: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity <= Severity.ERROR

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "path": self.path,
            "severity": self.severity.label,
            "severityCode": int(self.severity),
        }
        if self.entity is not None:
            data["entity"] = self.entity
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Problem":
        return cls(
            code=data["code"],
            message=data["message"],
            path=data["path"],
            severity=Severity(data["severityCode"]),
            entity=data.get("entity"),
        )


def error(code: str, message: str, path: str, entity: str | None = None) -> Problem:
    return Problem(code, message, path, Severity.ERROR, entity)


def warning(code: str, message: str, path: str, entity: str | None = None) -> Problem:
    return Problem(code, message, path, Severity.WARNING, entity)
