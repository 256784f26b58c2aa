"""Audit records of one request, collected in memory and written in one statement."""

from __future__ import annotations

from datetime import UTC, datetime

from audit.store import Row, Shared, write_records
from permissions.principal import Principal
from permissions.roles import Decision

PHI_ACCESS = "PHI_ACCESS"


class AuditBuffer:
    def __init__(self, principal: Principal) -> None:
        p = principal
        self._shared = Shared(
            at=datetime.now(UTC),
            request_id=p.request_id,
            event=PHI_ACCESS,
            actor=p.actor,
            role=p.role.value,
            client=p.client,
            purpose=p.purpose.value,
            ip=p.ip,
        )
        self._rows: list[Row] = []

    def phi_access(self, patient: str, field: str, path: str, decision: Decision) -> None:
        self._rows.append((patient, field, path, decision.value))

    async def flush(self) -> None:
        """Write everything collected so far, all or nothing. Raises if the write fails."""
        rows, self._rows = self._rows, []
        await write_records(self._shared, rows)
