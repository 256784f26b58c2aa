"""Errors a client may see. Each has a stable `extensions.code` and a fixed, PHI-free message."""

from __future__ import annotations

from permissions.errors import Forbidden, NotFound, PhigateError, PhiUnavailable

__all__ = [
    "AuditUnavailable", "BadInput", "BudgetExceeded", "Forbidden", "NotFound", "PhiUnavailable",
    "PhigateError",
]  # fmt: skip


class BadInput(PhigateError):
    code = "BAD_USER_INPUT"
    default_message = "Invalid input"


class AuditUnavailable(PhigateError):
    code = "AUDIT_UNAVAILABLE"
    default_message = "The audit trail could not be written, so no data is returned"


class BudgetExceeded(PhigateError):
    code = "EXPORT_BUDGET_EXCEEDED"
    default_message = (
        "Too many distinct patients read this hour; no data is returned and the access is "
        "flagged for review"
    )
