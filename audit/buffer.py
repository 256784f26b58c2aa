"""Audit records of one request, collected in memory and written in one statement.

A request's PHI field accesses are grouped by (patient, decision, purpose): one record per
group lists every field and path it covers, so nothing is lost while a page of patients costs
a row per patient rather than a row per field.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from audit.budget import ExportBudgetExceeded, hour_of
from audit.health import REQUEST_RECORDS
from audit.store import Row, Shared, Window, write_records
from observe import metrics
from permissions.principal import Principal
from permissions.roles import Decision, Purpose

PHI_ACCESS = "PHI_ACCESS"
_Group = tuple[str | None, Decision, Purpose | None]
"""(patient, decision, purpose): one audit record. No patient: a report's whole population
(an aggregate counted from the report tally, permissions/tally.py)."""
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
        self._groups: dict[_Group, dict[str, list[str]]] = {}

    @property
    def pending(self) -> bool:
        """Whether anything was collected since the last flush: a request that read no PHI
        (a write answering `id version`) has no records and makes no trip."""
        return bool(self._groups)

    def phi_access(
        self,
        patient: str | None,
        field: str,
        prefix: str,
        key: str,
        decision: Decision,
        purpose: Purpose | None = None,
    ) -> None:
        """`field` (`Patient.ssn`) read at `prefix.key` (`patients.edges.3.node` + `ssn`, or
        the alias it was asked under); `purpose` overrides the principal's for this access
        (break-glass: EMERGENCY)."""
        self.entries(patient, prefix, decision, purpose).append(entry(field, key))

    def entries(
        self, patient: str | None, prefix: str, decision: Decision, purpose: Purpose | None = None
    ) -> list[str]:
        """Where the fields read on the object at `prefix` with `decision` are listed (see
        `entry`): the guard keeps it per object rather than looking it up per field."""
        objects = self._groups.get((patient, decision, purpose))
        if objects is None:
            objects = self._groups[patient, decision, purpose] = {}
        listed = objects.get(prefix)
        if listed is None:
            listed = objects[prefix] = []
        return listed

    async def flush(self) -> None:
        """Write everything collected so far, all or nothing. Raises if the write fails, and
        `ExportBudgetExceeded` (once written) if the request took its actor past the budget."""
        groups, self._groups = self._groups, {}
        rows: list[Row] = [
            (patient, decision.value, (purpose or self._purpose).value, _encoded(objects))
            for (patient, decision, purpose), objects in groups.items()
        ]
        identified = sorted(
            {key[0] for key in groups if key[1] in IDENTIFIED and key[0] is not None}
        )
        window = Window(hour_of(self._shared.at), identified) if identified else None
        started = time.perf_counter()
        try:
            readers = await write_records(self._shared, rows, window)
        except BaseException:
            metrics.AUDIT_WRITE_FAILURES.labels("read").inc()
            REQUEST_RECORDS.failed()
            raise
        REQUEST_RECORDS.succeeded()
        metrics.AUDIT_WRITE_SECONDS.observe(time.perf_counter() - started)
        _count_decisions(groups)
        if window is not None and readers > self._budget:
            metrics.EXPORT_BUDGET_REFUSALS.labels(self._shared.role).inc()
            raise ExportBudgetExceeded(window.hour)


def _count_decisions(groups: dict[_Group, dict[str, list[str]]]) -> None:
    """Every field decision the request recorded, by kind, once its records are written (a
    response withheld for the export budget counts too): a few counter steps a request, about
    0.6 us a patient of the page to add up."""
    counts: dict[Decision, int] = {}
    for key, objects in groups.items():
        count = 0
        for listed in objects.values():
            count += len(listed)
        counts[key[1]] = counts.get(key[1], 0) + count
    for decision, count in counts.items():
        metrics.DECISIONS.labels(decision.value).inc(count)


def entry(field: str, key: str) -> str:
    """`Patient.ssn`, or `Patient.ssn@alias` for a field asked under an alias."""
    return field if key == field.rpartition(".")[2] else f"{field}@{key}"


def _encoded(objects: dict[str, list[str]]) -> str:
    """`{"patients.edges.3.node": ["Patient.ssn", "Patient.mrn@id"]}`: each object's path
    once, then its fields (`@key` where the field was asked under an alias). Built as text:
    it is the bulk of a request's audit bytes, and its parts (GraphQL names, list indices,
    dots) are never escaped by JSON; should one ever hold a quote, the write fails as invalid
    JSON and no data is returned."""
    return (
        "{"
        + ",".join(
            f'"{prefix}":["' + '","'.join(entries) + '"]' for prefix, entries in objects.items()
        )
        + "}"
    )
