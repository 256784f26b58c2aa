"""Errors a client may see. Each has a stable `extensions.code` and a fixed, PHI-free message."""

from __future__ import annotations

from permissions.errors import AuditUnavailable, Forbidden, NotFound, PhigateError, PhiUnavailable

__all__ = [
    "AuditUnavailable", "BadInput", "BudgetExceeded", "Conflict", "Forbidden", "InvalidField",
    "NotFound", "PhiUnavailable", "PhigateError",
]  # fmt: skip


class BadInput(PhigateError):
    code = "BAD_USER_INPUT"
    default_message = "Invalid input"


class InvalidField(BadInput):
    """A value of an input that has not its documented shape: the message names the input
    path and the reason, never the value (it is PHI)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.extensions["field"] = path


class Conflict(PhigateError):
    code = "CONFLICT"
    default_message = (
        "The record changed since the version you read; nothing was written. Read it again"
    )


class BudgetExceeded(PhigateError):
    code = "EXPORT_BUDGET_EXCEEDED"
    default_message = (
        "Too many distinct patients read this hour; no data is returned and the access is "
        "flagged for review"
    )
