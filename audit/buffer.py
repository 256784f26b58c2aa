"""Audit records of one request, collected in memory and written in one bulk insert."""

from __future__ import annotations

from datetime import UTC, datetime

from tortoise.transactions import in_transaction

from models import AuditEvent
from permissions.principal import Principal
from permissions.roles import Decision

PHI_ACCESS = "PHI_ACCESS"


class AuditBuffer:
    def __init__(self, principal: Principal) -> None:
        self.principal = principal
        self.at = datetime.now(UTC)
        self._records: list[AuditEvent] = []

    def __len__(self) -> int:
        return len(self._records)

    def phi_access(self, patient: str, field: str, path: str, decision: Decision) -> None:
        p = self.principal
        self._records.append(
            AuditEvent(
                at=self.at,
                request_id=p.request_id,
                event=PHI_ACCESS,
                actor=p.actor,
                role=p.role.value,
                client=p.client,
                purpose=p.purpose.value,
                ip=p.ip,
                patient=patient,
                field=field,
                path=path,
                decision=decision.value,
            )
        )

    async def flush(self) -> None:
        """Write everything collected so far, all or nothing. Raises if the write fails."""
        if not self._records:
            return
        records, self._records = self._records, []
        async with in_transaction():
            await AuditEvent.bulk_create(records)
