"""Domain errors: a stable code an adapter can map, and a message an operator understands."""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    """What kind of refusal this is; adapters map it (HTTP status, exit code)."""

    INVALID = "invalid"  # 422: bad input, nothing stored
    NOT_FOUND = "not_found"  # 404
    CONFLICT = "conflict"  # 409: forbidden transition or concurrent change
    STALE = "stale"  # 412: the caller's expected version is not the current one
    FORBIDDEN = "forbidden"  # 403


class DomainError(Exception):
    """Base of every refusal of the domain. Nothing has been recorded when it is raised."""

    kind: ErrorKind = ErrorKind.INVALID

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def as_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "field": self.field}

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class InvalidInput(DomainError):
    """The input cannot be accepted as given (a field, a date, an identifier)."""

    kind = ErrorKind.INVALID


class NotEligible(InvalidInput):
    """Signature refused by the eligibility rules (R8, R9)."""


class NotFound(DomainError):
    kind = ErrorKind.NOT_FOUND


class ForbiddenTransition(DomainError):
    """The convention's state forbids this command (R15)."""

    kind = ErrorKind.CONFLICT


class ConcurrentModification(DomainError):
    """Someone else changed the convention between our read and our write."""

    kind = ErrorKind.CONFLICT


class StaleVersion(DomainError):
    """The caller acted on a version that is no longer the current one."""

    kind = ErrorKind.STALE


class IdempotencyKeyReused(InvalidInput):
    """The same command id was sent before with a different command."""
