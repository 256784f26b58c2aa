"""Audit records of one request, collected in memory and written in one statement."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from audit.store import write_records
from permissions.principal import Principal
from permissions.roles import Decision

PHI_ACCESS = "PHI_ACCESS"


class AuditBuffer:
    def __init__(self, principal: Principal) -> None:
        p = principal
        # Everything but the field is the same for every record of a request: built once.
        self._common: dict[str, Any] = {
            "at": datetime.now(UTC).isoformat(sep=" "),
            "request_id": p.request_id,
            "event": PHI_ACCESS,
            "actor": p.actor,
            "role": p.role.value,
            "client": p.client,
            "purpose": p.purpose.value,
            "ip": p.ip,
        }
        self._fields: list[tuple[str, str, str, str]] = []

    def __len__(self) -> int:
        return len(self._fields)

    def phi_access(self, patient: str, field: str, path: str, decision: Decision) -> None:
        self._fields.append((patient, field, path, decision.value))

    async def flush(self) -> None:
        """Write everything collected so far, all or nothing. Raises if the write fails."""
        if not self._fields:
            return
        fields, self._fields = self._fields, []
        common = self._common
        await write_records(
            [
                {**common, "patient": patient, "field": field, "path": path, "decision": decision}
                for patient, field, path, decision in fields
            ]
        )
