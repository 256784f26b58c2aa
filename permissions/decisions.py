"""The one place that decides PHI access.

Every question "may this principal read, search or aggregate this @phi field of this subject,
and how (ALLOW, MASK, DEIDENTIFY, DENY)" is answered by a field's `FieldPlan`, from the policy
data (policy.py, scopes.py, reports.py) and the field's own overrides: role policy, per-field
overrides, proxy scope and OAuth2 scopes (both narrow a subject's categories, see rows.py),
break-glass (a subject's purpose) and report mode (a subject's report scope).

`Access` is that decision's face for one request: resolvers ask it to search, run reports,
aggregate or act on a capability, and it applies the same `FieldPlan.decide` the object pass
applies to every field it resolves. It holds the request's keyring, privately: values are
opened or indexed only after a decision, here or by the object pass's session it hands
`opener()` to.

Writes are decided here too: `authorize` decides every field of one input against the same
plans (all or nothing: one field the caller may not write refuses the whole input, and the
refusal is recorded) and hands back an `Authorized` change with the `Sealer` its values are
sealed with (only an authorized write seals values), and `commit` runs the write with its
audit records in one transaction (audit/writes.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from types import MappingProxyType
from typing import Any, Protocol, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model
from tortoise.queryset import QuerySet

from crypto.blind_index import IndexKind, blind_index
from crypto.keyring import Keyring
from crypto.sealed import Sealed
from models import FhirSource, Patient
from permissions import aggregate as aggregates
from permissions import report_pages, tally
from permissions.deidentify import SAFE_HARBOR, report_date, reported_age
from permissions.errors import Forbidden, NotFound, opened
from permissions.masks import MASKS
from permissions.policy import CAPABILITIES, POLICY, WRITE_POLICY
from permissions.principal import Principal
from permissions.pseudonyms import ReportScope
from permissions.reports import (
    ReportCategories,
    ReportPages,
    ReportRows,
    ReportRule,
    report_rule,
)
from permissions.roles import Capability, Category, Decision, Purpose, Role
from permissions.rows import RowAccess, Subject

Categories = frozenset[Category] | None
"""The categories an access is limited to; None: no limit beyond the role policy."""


class PolicyError(Exception):
    """The schema declares something the policy cannot enforce; raised at schema build."""


def report_decision(principal: Principal, identified: Decision) -> Decision:
    """The decision on a field read through a report, given the identified decision."""
    rule = report_rule(principal)
    if rule is None:
        return Decision.DENY
    if rule.categories is ReportCategories.WITHIN_POLICY and identified is Decision.DENY:
        return Decision.DENY
    return Decision.DEIDENTIFY


@dataclass(frozen=True, slots=True)
class FieldPlan:
    """A PHI field's compiled decisions per role and the transform each decision applies,
    built once per field when the schema is built: deciding costs dict lookups."""

    category: Category
    decisions: Mapping[Role, Decision]
    mask: Callable[[str], str] | None
    deidentify: Callable[[str], str | None]
    writes: Mapping[Role, Decision] | None = None
    """Who may set or change the field (ALLOW or DENY); None: no input writes it (history)."""

    @classmethod
    def compile(
        cls,
        category: Category,
        allow: Iterable[Role] = (),
        mask: Iterable[Role] = (),
        write: Iterable[Role] | None = None,
    ) -> FieldPlan:
        """`write`: the roles that may write this one field, instead of its category's."""
        decisions = {role: row[category] for role, row in POLICY.items()}
        decisions.update(dict.fromkeys(allow, Decision.ALLOW))
        decisions.update(dict.fromkeys(mask, Decision.MASK))
        masker = MASKS.get(category)
        if masker is None and Decision.MASK in decisions.values():
            raise PolicyError(f"category {category.value} has no mask; use allow or deny")
        if write is None:
            writes = {role: row[category] for role, row in WRITE_POLICY.items()}
        else:
            writers = frozenset(write)
            writes = {r: Decision.ALLOW if r in writers else Decision.DENY for r in WRITE_POLICY}
        return cls(
            category,
            MappingProxyType(decisions),
            masker,
            SAFE_HARBOR[category],
            MappingProxyType(writes),
        )

    def read_only(self) -> FieldPlan:
        """The same read decisions for a value no input writes (an earlier version of it)."""
        return replace(self, writes=None)

    def decide_write(self, principal: Principal, categories: Categories) -> Decision:
        """Whether the principal may set this field of a subject limited to `categories`.
        An OAuth2 token writes nothing: no scope grants writes yet."""
        if self.writes is None or principal.scopes is not None:
            return Decision.DENY
        if categories is not None and self.category not in categories:
            return Decision.DENY
        return self.writes[principal.role]

    def decide(self, principal: Principal, subject: Subject) -> Decision:
        return self.decide_on(principal, subject.categories, subject.report is not None)

    def decide_on(self, principal: Principal, categories: Categories, report: bool) -> Decision:
        """The decision on this field of a subject whose access is limited to `categories`."""
        identified = self.decisions[principal.role]
        if categories is not None and self.category not in categories:
            identified = Decision.DENY
        return report_decision(principal, identified) if report else identified

    def transform(self, decision: Decision) -> Callable[[str], str | None] | None:
        """What a decision does to an opened value: None for the full value (ALLOW)."""
        if decision is Decision.ALLOW:
            return None
        if decision is Decision.MASK and self.mask is not None:
            return self.mask
        if decision is Decision.DEIDENTIFY:
            return self.deidentify
        raise PolicyError("no transform for this decision")


FieldPlans = Mapping[str, FieldPlan]
"""Every @phi field's plan by its coordinate (`Patient.mrn`), from the built schema."""


@dataclass(frozen=True, slots=True)
class Searchable:
    """A PHI field patients may be found by: equality on its blind index."""

    column: str
    kind: IndexKind


SEARCHABLE: Mapping[str, Searchable] = MappingProxyType(
    {"Patient.mrn": Searchable("mrn_index", IndexKind.MRN)}
)


@dataclass(frozen=True, slots=True)
class FieldAccess:
    """What a principal may do with one @phi field (`Patient.mrn`), as the decisions go."""

    coordinate: str
    category: Category
    read: Decision
    """Reading the field of a patient the caller's rows include."""
    report: Decision
    """Reading it through a report (DEIDENTIFY, or DENY)."""
    write: bool


_LISTED: Mapping[Category, str] = MappingProxyType(
    {
        Category.DIAGNOSIS: "Patient.diagnoses",
        Category.LAB: "Patient.observations",
        Category.NOTE: "Patient.notes",
    }
)
"""The lists of a patient's clinical entries, by the category of what they list."""
_LISTS: Mapping[Category, FieldPlan] = MappingProxyType(
    {category: FieldPlan.compile(category) for category in _LISTED}
)


_FINGERPRINT = "idempotency_key.fingerprint"
"""The blind-index column whose key digests requests (Access.fingerprint)."""


class AccessLog(Protocol):
    """Where reads are recorded: the request's audit buffer."""

    def phi_access(
        self, patient: str | None, field: str, prefix: str, key: str, decision: Decision
    ) -> None:
        """No patient: the field of every patient a report covers, counted together."""


@dataclass(frozen=True, slots=True)
class PatientRef:
    """A patient by identifiers only: what an administrative act needs, no PHI."""

    pk: int
    public_id: str
    organization_pk: int


Transform = Callable[[str, date], str | None]
"""A de-identifying view of a plaintext value, given the report date."""


@dataclass(frozen=True, slots=True)
class Change:
    """One mutation's write to one record of one patient, as the caller asked for it."""

    action: str
    """A `permissions.actions.WriteAction`: the audit records' event."""
    patient_id: str
    record_id: str
    """The public id of the record written (the patient's, or a diagnosis'...)."""
    prefix: str
    """Where the input is in the request (`updatePatient.input`): the audit records' path."""
    fields: tuple[tuple[str, str], ...]
    """(input key, @phi field coordinate it writes) for every field the input holds."""
    purpose: Purpose | None = None


class Authorized:
    """A change every field of which the caller may write, and what its values are sealed
    with: what `Access.commit` takes. A write seals before its transaction opens, so the
    transaction holds the database for its statements alone."""

    __slots__ = ("change", "sealer")

    def __init__(self, change: Change, sealer: Sealer) -> None:
        self.change = change
        self.sealer = sealer


T = TypeVar("T")


class Transaction(Protocol):
    """A write's transaction as its work sees it (audit/writes.py): `connection` for what the
    work reads and changes, `insert` for each new row it adds, which also writes the change's
    audit record with the first."""

    connection: BaseDBAsyncClient

    async def insert(self, row: Model) -> None: ...


class WriteLog(Protocol):
    """Where writes are recorded (audit/writes.py): a refusal at once, a write in the write's
    own transaction, so neither exists without the other."""

    async def refused(
        self, principal: Principal, change: Change, refused: Sequence[tuple[str, str]]
    ) -> None: ...

    async def commit(
        self, principal: Principal, change: Change, work: Callable[[Transaction], Awaitable[T]]
    ) -> T: ...


class Sealer:
    """What an authorized write seals with: the current data key, row and column binding, and
    the blind indexes of the row's looked-up columns (`row.seal`)."""

    __slots__ = ("_keyring",)

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring

    def seal(self, row: Any, **values: str | None) -> None:
        row.seal(self._keyring, **values)

    def _keep(self, revision: Any, row: Any, columns: Iterable[str]) -> None:
        """Seal the values `columns` hold in `row` into `revision`, under its own binding: the
        previous values of a change. They are opened here only to be sealed again."""
        opened = {}
        for column in columns:
            value = getattr(row, column)
            opened[column] = None if value is None else self._keyring.open(value)
        revision.seal(self._keyring, **opened)

    def revise(
        self, revision: Any, row: Any, changes: Mapping[str, str | None], reason: str | None
    ) -> None:
        """A change of `row`: its earlier values and the stated reason into `revision`, then
        the new values into the row."""
        self._keep(revision, row, changes)
        self.seal(revision, reason=reason)
        self.seal(row, **changes)


class Access:
    """One request's PHI decisions beyond the fields the object pass resolves."""

    __slots__ = ("_keyring", "_log", "_plans", "_writes", "principal", "rows")

    def __init__(
        self,
        principal: Principal,
        plans: FieldPlans,
        keyring: Keyring,
        log: AccessLog,
        writes: WriteLog | None = None,
    ) -> None:
        self.principal = principal
        self.rows = RowAccess(principal)
        self._plans = plans
        self._keyring = keyring
        self._log = log
        self._writes = writes

    async def authorize(self, change: Change, categories: Categories) -> Authorized:
        """All or nothing: FORBIDDEN, naming the first field's input path, if the caller may
        not write any one field of the change (on a subject limited to `categories`); the
        refusal of every such field is recorded first."""
        principal = self.principal
        refused = [
            (key, coordinate)
            for key, coordinate in change.fields
            if self._plans[coordinate].decide_write(principal, categories) is not Decision.ALLOW
        ]
        if refused:
            await self._write_log().refused(principal, change, refused)
            path = f"{change.prefix.rpartition('.')[2]}.{refused[0][0]}"
            error = Forbidden(f"Not permitted to write {path}; nothing was written")
            error.extensions["field"] = path
            raise error
        return Authorized(change, Sealer(self._keyring))

    async def commit(
        self, authorized: Authorized, work: Callable[[Transaction], Awaitable[T]]
    ) -> T:
        """Run `work` and the change's audit records in one transaction."""
        return await self._write_log().commit(self.principal, authorized.change, work)

    def _write_log(self) -> WriteLog:
        if self._writes is None:
            raise PolicyError("this request cannot write")
        return self._writes

    def field_access(self) -> list[FieldAccess]:
        """Every @phi field and what this principal may do with it: what a frontend selects
        by. The same decisions the object pass and `authorize` make, on a patient the caller's
        rows include with no limit but the caller's own (an OAuth2 token's scopes); a proxy
        grant narrows one patient's further."""
        principal, categories = self.principal, self.rows.scope_categories
        return [
            FieldAccess(
                coordinate,
                plan.category,
                plan.decide_on(principal, categories, report=False),
                plan.decide_on(principal, categories, report=True),
                plan.decide_write(principal, categories) is Decision.ALLOW,
            )
            for coordinate, plan in sorted(self._plans.items())
        ]

    def listing(self, subject: Subject, category: Category, path: str) -> bool:
        """May the caller list a patient's entries of `category`? A list's length says how
        many entries exist, which is as much PHI as the entries: no list (the refusal
        recorded) when the caller may read no field of that category, decided as the
        entries' fields are."""
        decision = _LISTS[category].decide(self.principal, subject)
        if decision is Decision.DENY:
            prefix, _, key = path.rpartition(".")
            self._log.phi_access(subject.patient_id, _LISTED[category], prefix, key, decision)
            return False
        return True

    def opener(self) -> Callable[[Sealed], str]:
        """What opens the values the object pass decided on: for its session alone."""
        return self._keyring.open

    def fingerprint(self, request: str) -> bytes:
        """A keyed digest of a request's arguments (PHI among them), to tell a retry from
        another request under the same Idempotency-Key: without the key, no guess of a value
        can be checked against it."""
        return self._keyring.blind_index(_FINGERPRINT, request)

    def require(self, capability: Capability) -> None:
        rule = CAPABILITIES[capability]
        principal = self.principal
        if principal.role not in rule.roles or (
            rule.people_only and (principal.user_pk is None or principal.scopes is not None)
        ):
            raise Forbidden(capability.value)

    def person(self, capability: Capability) -> int:
        """The signed-in user's key, for a capability only a person may act on."""
        self.require(capability)
        if self.principal.user_pk is None:
            raise Forbidden(capability.value)
        return self.principal.user_pk

    async def search(self, coordinate: str, value: str, path: str) -> QuerySet[Patient]:
        """The caller's patients whose field `coordinate` equals `value`, among those whose
        field the caller may read in full: searching reveals the value, so a row it may not
        read is never matched (a made-up value and a hidden one answer alike). FORBIDDEN when
        it may read the field of no row at all. Finding a patient by the value is a read of
        it, recorded at `path` (`patients.mrn`) for every patient found, whatever the caller
        then selects."""
        plan, searchable = self._plans[coordinate], SEARCHABLE[coordinate]
        principal = self.principal

        def readable(categories: Categories) -> bool:
            return plan.decide_on(principal, categories, report=False) is Decision.ALLOW

        rows = await self.rows.where(readable)
        if rows is None:
            raise Forbidden("Not permitted to search by this field")
        index = blind_index(self._keyring, searchable.kind, value)
        found = rows.filter(**{searchable.column: index})
        prefix, _, key = path.rpartition(".")
        for patient_id in await found.values_list("public_id", flat=True):
            self._log.phi_access(str(patient_id), coordinate, prefix, key, Decision.ALLOW)
        return found

    async def emergency_patient(self, coordinate: str, value: str) -> Patient:
        """A patient anywhere in the caller's organization, found by a field the caller may
        search by on any patient: break-glass is the one search beyond the caller's rows, and
        not beyond their organization (another's patient may even share the MRN)."""
        self.require(Capability.BREAK_GLASS)
        plan = self._plans[coordinate]
        if plan.decide_on(self.principal, self.rows.scope_categories, False) is not Decision.ALLOW:
            raise Forbidden("Not permitted to search by this field")
        found = await self._in_organization(
            self.principal.organization_pk, coordinate, value
        ).first()
        if found is None:
            raise NotFound()
        return found

    async def care_team_patient(
        self, coordinate: str, value: str, organization_pk: int | None
    ) -> PatientRef:
        """The patient of organization `organization_pk` (the clinician's) whose field
        `coordinate` equals `value`, for an admin assigning a care team: found by blind index
        alone and handed back as identifiers only. Nothing is opened, so the admin (whose
        policy denies every PHI category) learns no value beyond the one they typed."""
        self.require(Capability.MANAGE_CARE_TEAMS)
        patients = self._in_organization(organization_pk, coordinate, value)
        found = await patients.limit(1).values_list("id", "public_id", "organization_id")
        if not found:
            raise NotFound()
        pk, public_id, organization_pk = found[0]
        return PatientRef(pk, public_id, organization_pk)

    def _in_organization(
        self, organization_pk: int | None, coordinate: str, value: str
    ) -> QuerySet[Patient]:
        """The patients of an organization whose field `coordinate` equals `value`, by blind
        index (NOT_FOUND for no organization): an MRN is unique only within one."""
        if organization_pk is None:
            raise NotFound()
        searchable = SEARCHABLE[coordinate]
        index = blind_index(self._keyring, searchable.kind, value)
        return Patient.filter(organization_id=organization_pk, **{searchable.column: index})

    async def imported(self, organization_pk: int, keys: Iterable[str]) -> dict[str, FhirSource]:
        """The records an earlier import wrote from these source keys (`Observation/abc`) in
        one organization, by key: found by blind index alone, nothing opened (what makes an
        import idempotent)."""
        by_index = {blind_index(self._keyring, IndexKind.FHIR_SOURCE, key): key for key in keys}
        if not by_index:
            return {}
        found = await FhirSource.filter(
            organization_id=organization_pk, key_index__in=list(by_index)
        )
        return {by_index[row.key_index]: row for row in found}

    def seal(self, row: Any, **values: str | None) -> None:
        """Seals what a caller states into a row (`row.seal`), under the current data key."""
        row.seal(self._keyring, **values)

    def report_rule(self) -> ReportRule:
        rule = report_rule(self.principal)
        if rule is None:
            raise Forbidden("Not permitted to run reports")
        return rule

    async def report_page(
        self, scope: ReportScope, first: int, after: str | None, now: datetime
    ) -> report_pages.Page:
        """FORBIDDEN, before reading anything, for a caller offered no row-level pages (see
        permissions/reports.py: they would undo the aggregates' suppression). Raises
        report_pages.InvalidCursor for a cursor not sealed for this caller."""
        rule = self.report_rule()
        if rule.pages is not ReportPages.OFFERED:
            raise Forbidden("Row-level report pages are not offered to this caller")
        visible = await report_pages.report_patients(rule, self.rows)
        cursors = report_pages.Cursors(self._keyring, self.principal, now)
        return await report_pages.page(cursors, self.rows, visible, scope, first, after)

    def decision(self, coordinate: str) -> Decision:
        """The decision on field `coordinate` read through a report."""
        return self._plans[coordinate].decide_on(self.principal, self.rows.scope_categories, True)

    def derived(
        self,
        patient_id: str,
        source: str,
        field: str,
        path: str,
        sealed: Sealed | None,
        transform: Transform,
        today: date,
    ) -> str | None:
        """A value a report derives from field `source` (an age from `Patient.birthDate`),
        decided as that field is in the report, recorded as `field` at `path`, and handed
        back only in its de-identified form."""
        decision = self.decision(source)
        prefix, _, key = path.rpartition(".")
        self._log.phi_access(patient_id, field, prefix, key, decision)
        if decision is Decision.DENY:
            raise Forbidden()
        value = opened(self._keyring, sealed)
        return None if value is None else transform(value, today)

    def age(self, patient_id: str, field: str, path: str, birth_date: Sealed | None) -> str | None:
        return self.derived(
            patient_id, "Patient.birthDate", field, path, birth_date, reported_age, report_date()
        )

    async def aggregate(self, by: Sequence[aggregates.Dimension], path: str) -> aggregates.Table:
        """Counts over the report's patients; FORBIDDEN, before reading anything, if a
        dimension's field is denied in the caller's reports.

        A report over the whole organization is counted from the report tally when it counts to
        this year: no patient's value is opened for the caller, so its record is one for the
        population (no patient) per field. Otherwise (a staff report over its row access, or no
        tally yet) each patient's values are opened and recorded per patient."""
        decisions = {
            aggregates.SOURCES[d].field: self.decision(aggregates.SOURCES[d].field) for d in by
        }
        if Decision.DENY in decisions.values():
            raise Forbidden()
        rule = self.report_rule()
        today = report_date()
        organization = self.principal.organization_pk
        if rule.rows is ReportRows.ORGANIZATION and organization is not None:
            found = await tally.counted(self._keyring, organization, by, today)
            if found is not None:
                prefix, _, key = path.rpartition(".")
                for field in sorted(decisions):
                    self._log.phi_access(None, field, prefix, key, decisions[field])
                return aggregates.table(found.counts, found.total, aggregates.ordered(by))
        visible = await report_pages.report_patients(rule, self.rows)

        def read(patient_id: str, source: aggregates.Source, sealed: Sealed | None) -> str | None:
            return self.derived(
                patient_id, source.field, source.field, path, sealed, source.transform, today
            )

        return await aggregates.aggregate(read, visible, by)
