"""Importing FHIR R4 files through the API's write path: every record is decided by the
decision point (`Access.authorize`), sealed and indexed by its `Sealer`, and audited in its
transaction (`Access.commit`), exactly as a mutation writes it.

Who writes: an import is an operator's act, and each kind of record is written as the role
the write policy names for it (`WRITERS`): demographics and encounters as registration
(front desk), diagnoses and notes as a physician, results as a nurse. The decision is the
policy's, per field, and the audit records name the operator (`cli:<os user>`) as the actor
and that role: a policy that stops a role writing a field stops the import writing it.

One patient, one transaction: the patient and all their records commit together or not at
all (each record's own write is a savepoint within it). Idempotent: every source resource
written is kept as a `FhirSource` (its key as a blind index), and one already written is not
written again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from interchange import bundles, inbound
from interchange.bundles import Entry, Problem
from interchange.inbound import NotModelled, Record, Unusable
from models import ClinicalNote, Diagnosis, Encounter, FhirSource, Observation, Patient
from ops.progress import Progress
from permissions.actions import WriteAction
from permissions.decisions import Access, Authorized, Change, Transaction
from permissions.errors import PhigateError
from permissions.roles import Role
from resolvers import clinical_writes, patient_writes, validation
from resolvers.validation import Check


@dataclass(frozen=True, slots=True)
class Target:
    """How one kind of phigate record is written on import."""

    name: str
    """The GraphQL type: the @phi coordinates' prefix (`Patient.givenName`)."""
    model: type[Any]
    checks: Mapping[str, Check]
    required: frozenset[str]
    """The columns a new record must have."""


TARGETS: Mapping[str, Target] = {
    "Patient": Target("Patient", Patient, validation.PATIENT, patient_writes.REQUIRED),
    "Encounter": Target("Encounter", Encounter, validation.ENCOUNTER, frozenset({"start_date"})),
    "Diagnosis": Target(
        "Diagnosis", Diagnosis, inbound.CODE_CHECKS, clinical_writes.DIAGNOSIS.required
    ),
    "Observation": Target(
        "Observation", Observation, validation.OBSERVATION, clinical_writes.OBSERVATION.required
    ),
    "ClinicalNote": Target(
        "ClinicalNote", ClinicalNote, validation.NOTE, clinical_writes.NOTE.required
    ),
}
WRITERS: Mapping[str, Role] = {
    "Patient": Role.FRONT_DESK,
    "Encounter": Role.FRONT_DESK,
    "Diagnosis": Role.PHYSICIAN,
    "Observation": Role.NURSE,
    "ClinicalNote": Role.PHYSICIAN,
}
"""The role each kind of record is written as: the one the write policy lets record it."""

Writer = Callable[[Role], Access]
"""The `Access` (one operator principal per role, one operation id) an import writes with."""

_CHUNK = 500


@dataclass(slots=True)
class Report:
    """What a run did, in counts; problems name file, entry and reason, never a value."""

    dry_run: bool = False
    files: int = 0
    resources: int = 0
    patients: int = 0
    """Patients written to (new ones, or earlier ones given new records)."""
    failed_patients: int = 0
    created: Counter[str] = field(default_factory=Counter)
    """Records written (or, on a dry run, that would be), by phigate type."""
    unchanged: Counter[str] = field(default_factory=Counter)
    """Records an earlier import already wrote, by phigate type."""
    not_modelled: Counter[str] = field(default_factory=Counter)
    """Resources phigate does not store, by type (and why)."""
    left_out: Counter[str] = field(default_factory=Counter)
    """Elements of imported resources phigate has no column for."""
    problems: list[Problem] = field(default_factory=list)

    def lines(self) -> list[str]:
        verb = "would create" if self.dry_run else "created"
        out = [
            f"files: {self.files}, resources: {self.resources}, patients written: "
            f"{self.patients}, patients not imported: {self.failed_patients}",
            f"{verb}: {_counts(self.created)}",
            f"already imported: {_counts(self.unchanged)}",
            f"not modelled (counted, not stored): {_counts(self.not_modelled)}",
            f"elements left out: {_counts(self.left_out)}",
        ]
        out += [f"problem: {problem}" for problem in self.problems]
        return out

    def summary(self) -> str:
        """The run's audit record: counts only."""
        mode = "dry run; " if self.dry_run else ""
        return (
            f"{mode}files={self.files} resources={self.resources} patients={self.patients} "
            f"failed_patients={self.failed_patients} created={sum(self.created.values())} "
            f"unchanged={sum(self.unchanged.values())} "
            f"not_modelled={sum(self.not_modelled.values())} problems={len(self.problems)}"
        )


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(counter.items())) or "none"


@dataclass(slots=True)
class _Group:
    """One patient's entries in this run."""

    key: str
    """The patient's source key (`Patient/123`)."""
    patient: Entry | None = None
    """None: a patient an earlier run imported (found by key), or nobody."""
    entries: list[Entry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


@dataclass(slots=True)
class _Planned:
    """A record to write: its row and its write, authorized."""

    entry: Entry
    record: Record
    row: Any
    authorized: Authorized
    values: dict[str, str | None]
    encounter: str | None
    """The source key of its encounter."""


class _Run:
    def __init__(
        self,
        writer: Writer,
        organization_pk: int,
        report: Report,
        mrn_system: str | None,
        references: bundles.References,
    ) -> None:
        self.references = references
        self.writer = writer
        self.organization_pk = organization_pk
        self.report = report
        self.mrn_system = mrn_system

    def group(self, entries: Sequence[Entry]) -> list[_Group]:
        """Entries by patient; a resource phigate does not model is counted here."""
        references = self.references
        groups: dict[str, _Group] = {}

        def of(key: str) -> _Group:
            return groups.setdefault(key, _Group(key))

        for entry in entries:
            key = bundles.source_key(entry)
            if entry.type not in _MODELLED:
                self.report.not_modelled[entry.type] += 1
            elif key is None:
                self.report.problems.append(entry.problem("no id and no fullUrl to import it by"))
            elif entry.type == "Patient":
                of(key).patient = entry
            else:
                try:
                    reference = inbound.subject(entry)
                except Unusable as exc:
                    self.report.problems.append(entry.problem(str(exc)))
                    continue
                target = references.resolve(reference)
                target_key = bundles.source_key(target) if target is not None else reference
                if target is not None and target.type != "Patient":
                    self.report.problems.append(
                        entry.problem(f"{entry.type}.subject: does not reference a Patient")
                    )
                    continue
                of(target_key or reference).entries.append(entry)
        return list(groups.values())

    async def run(self, group: _Group, dry_run: bool) -> None:
        if group.patient is None and not await self._existing([group.key]):
            # Entries whose subject is nobody read here nor imported before: nothing to check.
            self.report.problems += [
                entry.problem(f"{entry.type}.subject: references no patient of this import")
                for entry in group.entries
            ]
            return
        records: list[tuple[Entry, Record]] = []
        for entry in [group.patient, *group.entries] if group.patient else group.entries:
            records += self._records(group, entry)
        linked = [self._encounter_key(r.encounter) for _, r in records if r.encounter]
        existing = await self._existing([group.key, *(r.key for _, r in records), *linked])
        known = existing.get(group.key)
        new = [(e, r) for e, r in records if r.key not in existing]
        for _, record in records:
            if record.key in existing:
                self.report.unchanged[record.kind] += 1
        patient_public = known.patient if known is not None else None
        patient_row = None
        if group.patient is not None and known is None:
            patient_row = Patient(organization_id=self.organization_pk)
            patient_public = patient_row.public_id
        planned = []
        for entry, record in new:
            try:
                row = patient_row if record.kind == "Patient" else TARGETS[record.kind].model()
                planned.append(await self._plan(entry, record, row, patient_public, group))
            except (Unusable, PhigateError) as exc:
                group.problems.append(entry.problem(str(exc)))
        encounters = {p.record.key for p in planned if p.record.kind == "Encounter"}
        for plan in planned:
            to = plan.encounter
            if to is not None and not (
                to in encounters or (to in existing and existing[to].patient == patient_public)
            ):
                group.problems.append(
                    plan.entry.problem("encounter: references no encounter of this patient")
                )
        if group.problems:
            self.report.problems += group.problems
            self.report.failed_patients += 1
            return
        if not planned:
            return
        for plan in planned:
            self.report.created[plan.record.kind] += 1
        self.report.patients += 1
        if dry_run:
            return
        await self._commit(group, planned, known, existing, patient_public or "")

    def _records(self, group: _Group, entry: Entry) -> list[tuple[Entry, Record]]:
        problem = bundles.invalid(entry.resource)
        if problem is not None:
            group.problems.append(entry.problem(problem))
            return []
        try:
            found = inbound.records(entry, bundles.source_key(entry) or "", self.mrn_system)
        except NotModelled as exc:
            self.report.not_modelled[str(exc)] += 1
            return []
        except Unusable as exc:
            group.problems.append(entry.problem(str(exc)))
            return []
        for record in found:
            self.report.left_out.update(record.left_out)
        return [(entry, record) for record in found]

    async def _existing(self, keys: Iterable[str]) -> dict[str, FhirSource]:
        unique = list(dict.fromkeys(keys))
        found: dict[str, FhirSource] = {}
        for start in range(0, len(unique), _CHUNK):
            access = self.writer(Role.FRONT_DESK)
            found |= await access.imported(self.organization_pk, unique[start : start + _CHUNK])
        return found

    async def _plan(
        self, entry: Entry, record: Record, row: Any, patient_public: str | None, group: _Group
    ) -> _Planned:
        target = TARGETS[record.kind]
        values: dict[str, str | None] = {}
        for column, (element, value) in record.values.items():
            values[column] = target.checks[column](element, value)
        missing = sorted(target.required - set(values))
        if missing:
            raise Unusable(f"{record.kind}.{_camel(missing[0])}: is required, and not stated")
        change = Change(
            WriteAction.CREATE,
            patient_public or row.public_id,
            row.public_id,
            f"import.{target.name}",
            tuple((_camel(c), f"{target.name}.{_camel(c)}") for c in values),
        )
        authorized = await self.writer(WRITERS[record.kind]).authorize(change, None)
        encounter = None if record.encounter is None else self._encounter_key(record.encounter)
        return _Planned(entry, record, row, authorized, values, encounter)

    def _encounter_key(self, reference: str) -> str:
        """The source key of a referenced encounter: one read in this run, or as referenced
        (one an earlier run imported, or nothing)."""
        resolved = self.references.resolve(reference)
        return (bundles.source_key(resolved) if resolved is not None else None) or reference

    async def _commit(
        self,
        group: _Group,
        planned: list[_Planned],
        known: FhirSource | None,
        existing: Mapping[str, FhirSource],
        patient_public: str,
    ) -> None:
        rows: dict[str, Any] = {}
        patient_pk = None
        if known is not None:
            patient_pk = (await Patient.get(public_id=known.patient)).id
        order = sorted(planned, key=lambda p: _ORDER[p.record.kind])
        try:
            async with in_transaction():
                for plan in order:
                    if plan.record.kind != "Patient":
                        plan.row.patient_id = patient_pk
                        if plan.encounter is not None:
                            plan.row.encounter_id = await self._encounter_pk(
                                plan.encounter, rows, existing
                            )
                    await self._write(plan, patient_public)
                    rows[plan.record.key] = plan.row
                    if plan.record.kind == "Patient":
                        patient_pk = plan.row.id
        except IntegrityError:
            # The one unique value a new patient can collide on is its MRN.
            self.report.created.subtract(p.record.kind for p in planned)
            self.report.created = +self.report.created
            self.report.patients -= 1
            self.report.failed_patients += 1
            first = group.patient or planned[0].entry
            self.report.problems.append(
                first.problem("Patient.identifier[MR]: already in use in this organization")
            )

    async def _encounter_pk(
        self, key: str, rows: Mapping[str, Any], existing: Mapping[str, FhirSource]
    ) -> int:
        if key in rows:
            pk: int = rows[key].id
            return pk
        return int((await Encounter.get(public_id=existing[key].record)).id)

    async def _write(self, plan: _Planned, patient_public: str) -> None:
        access = self.writer(WRITERS[plan.record.kind])
        sealer = plan.authorized.sealer
        sealer.seal(plan.row, **plan.values)
        source = FhirSource(
            organization_id=self.organization_pk,
            record=plan.row.public_id,
            patient=patient_public,
        )
        sealer.seal(source, key=plan.record.key)

        async def work(transaction: Transaction) -> None:
            await transaction.insert(plan.row)
            await transaction.insert(source)

        await access.commit(plan.authorized, work)


_MODELLED = frozenset(
    {"Patient", "Encounter", "Condition", "Observation", "DocumentReference", "DiagnosticReport"}
)
_ORDER = {"Patient": 0, "Encounter": 1, "Diagnosis": 2, "Observation": 2, "ClinicalNote": 2}


def _camel(column: str) -> str:
    head, *rest = column.split("_")
    return head + "".join(part.title() for part in rest)


async def import_paths(
    paths: Sequence[Path],
    writer: Writer,
    organization_pk: int,
    *,
    dry_run: bool = False,
    mrn_system: str | None = None,
    progress: Callable[[int], Progress] | None = None,
) -> Report:
    """Import FHIR R4 Bundles and NDJSON files (or the folders holding them) into one
    organization. `dry_run`: read, validate and decide everything, write nothing."""
    report = Report(dry_run=dry_run)
    entries: list[Entry] = []
    for path in bundles.files(paths):
        found, problems = bundles.read(path)
        report.files += 1
        entries += found
        report.problems += problems
    report.resources = len(entries)
    run = _Run(writer, organization_pk, report, mrn_system, bundles.References(entries))
    groups = run.group(entries)
    bar = progress(len(entries)) if progress is not None else None
    grouped = sum(len(group.entries) + (group.patient is not None) for group in groups)
    if bar is not None:
        # Counted, not imported, or refused before grouping: done.
        bar.advance(len(entries) - grouped)
    for group in groups:
        await run.run(group, dry_run)
        if bar is not None:
            bar.advance(len(group.entries) + (group.patient is not None))
    if bar is not None:
        bar.close()
    return report
