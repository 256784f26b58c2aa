"""Audit records of one request, collected in memory and written in one statement.

A request's PHI field accesses are grouped by (patient, decision): one record per group lists
every field and path it covers, so nothing is lost while a page of patients costs a row per
patient rather than a row per field.
"""

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
        self._groups: dict[tuple[str, Decision], list[tuple[str, str]]] = {}

    def phi_access(self, patient: str, field: str, path: str, decision: Decision) -> None:
        group = self._groups.get((patient, decision))
        if group is None:
            group = self._groups[patient, decision] = []
        group.append((field, path))

    async def flush(self) -> None:
        """Write everything collected so far, all or nothing. Raises if the write fails."""
        groups, self._groups = self._groups, {}
        rows: list[Row] = [
            (patient, decision.value, accessed) for (patient, decision), accessed in groups.items()
        ]
        await write_records(self._shared, rows)
