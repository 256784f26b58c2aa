"""Reads for what a report derives outside the @phi guard (ages, aggregates).

Such a value (an age, an age band, a count by diagnosis) comes from sealed columns the guard
never resolves as fields. Only this reader opens them: each read is decided by the report
policy, recorded in the audit trail like a guarded field, and only its de-identified form is
handed back.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Protocol

from crypto.keyring import Keyring
from crypto.sealed import Sealed
from permissions.policy import POLICY
from permissions.principal import Principal
from permissions.reports import report_decision
from permissions.roles import Category, Decision

Transform = Callable[[str, date], str | None]
"""A de-identifying view of a plaintext value, given the report date."""


class AccessLog(Protocol):
    """Where reads are recorded: the request's audit buffer."""

    def phi_access(
        self, patient: str, field: str, prefix: str, key: str, decision: Decision
    ) -> None: ...


class ReportDenied(Exception):
    """The report asked for a category the principal may not read."""


class ReportReader:
    def __init__(self, principal: Principal, keyring: Keyring, log: AccessLog, today: date):
        self.principal = principal
        self.today = today
        self._keyring = keyring
        self._log = log

    def decision(self, category: Category) -> Decision:
        return report_decision(self.principal, POLICY[self.principal.role][category])

    def read(
        self,
        patient_id: str,
        field: str,
        path: str,
        category: Category,
        sealed: Sealed | None,
        transform: Transform,
    ) -> str | None:
        """The de-identified value of `sealed`. Raises ReportDenied (after recording the
        denial) or the keyring's CryptoError."""
        decision = self.decision(category)
        prefix, _, key = path.rpartition(".")
        self._log.phi_access(patient_id, field, prefix, key, decision)
        if decision is Decision.DENY:
            raise ReportDenied()
        if sealed is None:
            return None
        return transform(self._keyring.open(sealed), self.today)
