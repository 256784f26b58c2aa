"""Audit records of one request, collected in memory and written in one statement.

A request's PHI field accesses are grouped by (patient, decision, purpose): one record per
group lists every field and path it covers, so nothing is lost while a page of patients costs
a row per patient rather than a row per field.
"""

from __future__ import annotations

from datetime import UTC, datetime

from audit.budget import ExportBudgetExceeded, hour_of
from audit.store import Row, Shared, Window, write_records
from permissions.principal import Principal
from permissions.roles import Decision, Purpose

PHI_ACCESS = "PHI_ACCESS"
IDENTIFIED = frozenset({Decision.ALLOW, Decision.MASK})
"""Decisions that hand out identified PHI: what the export budget counts."""


class AuditBuffer:
    def __init__(self, principal: Principal, export_budget: int) -> None:
        p = principal
        self._shared = Shared(
            at=datetime.now(UTC),
            request_id=p.request_id,
            event=PHI_ACCESS,
            actor=p.actor,
            role=p.role.value,
            client=p.client,
            ip=p.ip,
        )
        self._purpose = p.purpose
        self._budget = export_budget
        self._groups: dict[tuple[str, Decision, Purpose | None], list[str]] = {}

    def phi_access(
        self,
        patient: str,
        field: str,
        path: str,
        decision: Decision,
        purpose: Purpose | None = None,
    ) -> None:
        """`purpose` overrides the principal's for this access (break-glass: EMERGENCY).

        The entry is kept as its JSON text, `["Patient.ssn","patients.edges.3.node.ssn"]`:
        formatting it here once is the cheapest way to write thousands per request. Fields and
        paths are GraphQL names, list indices and dots, which JSON never escapes; should one
        ever hold a quote, the write fails as invalid JSON and no data is returned."""
        group = self._groups.get((patient, decision, purpose))
        if group is None:
            group = self._groups[patient, decision, purpose] = []
        group.append(f'["{field}","{path}"]')

    async def flush(self) -> None:
        """Write everything collected so far, all or nothing. Raises if the write fails, and
        `ExportBudgetExceeded` (once written) if the request took its actor past the budget."""
        groups, self._groups = self._groups, {}
        rows: list[Row] = [
            (
                patient,
                decision.value,
                (purpose or self._purpose).value,
                "[" + ",".join(accessed) + "]",
            )
            for (patient, decision, purpose), accessed in groups.items()
        ]
        identified = sorted({key[0] for key in groups if key[1] in IDENTIFIED})
        window = Window(hour_of(self._shared.at), identified) if identified else None
        readers = await write_records(self._shared, rows, window)
        if window is not None and readers > self._budget:
            raise ExportBudgetExceeded(window.hour)
