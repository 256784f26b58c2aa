"""Organization-wide aggregates read from the report tally (models/tally.py).

A patient counts in a cell when one of their facts has the cell's key: their age band and
ZIP3, and the (code, year) of each diagnosis not entered in error, all de-identified as the
report shows them (permissions/aggregate.py's sources, counted to the tally's year). The
tally holds, per organization, grouping and key, how many patients count there, and per
patient the facts they were counted by; ops/tally.py keeps both in step with the write audit
records. A patient written since the tally last took them in is counted here from their
values as they are now instead of from what the tally recorded, so an aggregate is exact
however far behind the tally is, and costs the cells plus the patients changed since.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache

from tortoise.backends.base.client import BaseDBAsyncClient

from crypto.keyring import Keyring
from crypto.sealed import Sealed
from models import AuditEvent, Diagnosis, EntryStatus, Patient
from models.tally import ReportCell, ReportContribution, ReportTally
from permissions.actions import WRITE_EVENTS
from permissions.aggregate import SOURCES, UNKNOWN, Dimension, ordered
from permissions.errors import PhiUnavailable, opened
from permissions.roles import Decision
from permissions.suppression import Key

GROUPED = (Dimension.AGE_BAND, Dimension.ZIP3, Dimension.DIAGNOSIS, Dimension.YEAR)
"""Every dimension, in the order a cell's key holds them (patient ones first, as `ordered`)."""
ALL_PATIENTS = 0
"""The grouping of the one cell counting every patient: the total of a patient-only table."""
WITH_DIAGNOSIS = 1 << len(GROUPED)
"""The grouping of the one cell counting the patients with a diagnosis: the total of a table
with a diagnosis dimension."""
STATE = 1
"""The id of the tally's state row."""
READS = 3
"""Attempts at a consistent read while the tally changes under it, before counting from the
patients instead."""
BEHIND = 2_000
"""Write records not yet taken in that an aggregate counts from the patients' values itself;
further behind (the drain stopped), it counts every patient instead, which needs no list of
them (SQLite caps a statement's parameters)."""


@dataclass(frozen=True, slots=True)
class Facts:
    """What a patient is counted by, de-identified."""

    age_band: str
    zip3: str
    diagnoses: frozenset[tuple[str, str]]
    """(code, year) of every diagnosis not entered in error."""

    def encode(self) -> str:
        return json.dumps([self.age_band, self.zip3, sorted(self.diagnoses)])

    @classmethod
    def decode(cls, text: str) -> Facts:
        age_band, zip3, diagnoses = json.loads(text)
        return cls(age_band, zip3, frozenset((code, year) for code, year in diagnoses))


Cell = tuple[int, Key]
"""(grouping, key): the grouping's dimensions as bits of their place in GROUPED."""


def grouping(by: Iterable[Dimension]) -> int:
    return sum(1 << GROUPED.index(d) for d in set(by))


@cache
def _groupings() -> tuple[tuple[int, tuple[Dimension, ...], tuple[Dimension, ...]], ...]:
    """(grouping, its patient dimensions, its diagnosis dimensions) for every grouping."""
    found = []
    for bits in range(1, 1 << len(GROUPED)):
        dimensions = [d for i, d in enumerate(GROUPED) if bits >> i & 1]
        own = tuple(d for d in dimensions if not SOURCES[d].per_diagnosis)
        per_dx = tuple(d for d in dimensions if SOURCES[d].per_diagnosis)
        found.append((bits, own, per_dx))
    return tuple(found)


def cells(facts: Facts) -> set[Cell]:
    """Every cell the patient counts in, once each, with the two totals."""
    own_values = {Dimension.AGE_BAND: facts.age_band, Dimension.ZIP3: facts.zip3}
    found: set[Cell] = {(ALL_PATIENTS, ())}
    if facts.diagnoses:
        found.add((WITH_DIAGNOSIS, ()))
    for bits, own, per_dx in _groupings():
        head = tuple(own_values[d] for d in own)
        if not per_dx:
            found.add((bits, head))
            continue
        for code, year in facts.diagnoses:
            dx_values = {Dimension.DIAGNOSIS: code, Dimension.YEAR: year}
            found.add((bits, head + tuple(dx_values[d] for d in per_dx)))
    return found


def cell_id(keyring: Keyring, organization_pk: int, cell: Cell) -> str:
    """The cell's public id: an HMAC of the organization, grouping and key, so the same cell
    is the same row and the row says nothing of its key."""
    bits, key = cell
    tag = keyring.blind_index("report_cell", json.dumps([organization_pk, bits, *key]))
    return f"{ReportCell.PUBLIC_ID_PREFIX}_" + base64.urlsafe_b64encode(tag[:16]).decode()[:22]


def _opened(keyring: Keyring, sealed: Sealed | None) -> str:
    """A NOT NULL column of the tally's."""
    text = opened(keyring, sealed)
    if text is None:
        raise PhiUnavailable()
    return text


def _fact(keyring: Keyring, source: Dimension, sealed: Sealed | None, today: date) -> str:
    """A sealed value as the report shows it, UNKNOWN if missing or withheld."""
    value = opened(keyring, sealed)
    return (None if value is None else SOURCES[source].transform(value, today)) or UNKNOWN


async def current_facts(
    keyring: Keyring,
    patient_pks: Collection[int],
    today: date,
    connection: BaseDBAsyncClient | None = None,
) -> dict[int, tuple[int, str, Facts]]:
    """(organization, public id, facts) of each of these patients, from their values now."""
    if not patient_pks:
        return {}
    patients = await (
        Patient.filter(id__in=list(patient_pks))
        .using_db(connection)
        .values_list("id", "organization_id", "public_id", "birth_date", "zip")
    )
    diagnoses: dict[int, set[tuple[str, str]]] = {pk: set() for pk, *_ in patients}
    for owner, public_id, code, recorded in await (
        Diagnosis.filter(patient_id__in=list(patient_pks))
        .exclude(status=EntryStatus.ENTERED_IN_ERROR)
        .using_db(connection)
        .values_list("patient_id", "public_id", "code", "recorded_date")
    ):
        diagnoses[owner].add(
            (
                _fact(
                    keyring, Dimension.DIAGNOSIS, Diagnosis.stored("code", public_id, code), today
                ),
                _fact(
                    keyring,
                    Dimension.YEAR,
                    Diagnosis.stored("recorded_date", public_id, recorded),
                    today,
                ),
            )
        )
    return {
        pk: (
            organization_pk,
            public_id,
            Facts(
                _fact(
                    keyring,
                    Dimension.AGE_BAND,
                    Patient.stored("birth_date", public_id, born),
                    today,
                ),
                _fact(keyring, Dimension.ZIP3, Patient.stored("zip", public_id, zip_code), today),
                frozenset(diagnoses[pk]),
            ),
        )
        for pk, organization_pk, public_id, born, zip_code in patients
    }


async def recorded_facts(
    keyring: Keyring, patient_pks: Collection[int], connection: BaseDBAsyncClient | None = None
) -> dict[int, Facts]:
    """The facts the tally counts each of these patients by (absent: not counted)."""
    if not patient_pks:
        return {}
    rows = await (
        ReportContribution.filter(patient_id__in=list(patient_pks))
        .using_db(connection)
        .values_list("patient_id", "public_id", "facts")
    )
    found = {}
    for pk, public_id, facts in rows:
        found[pk] = Facts.decode(
            _opened(keyring, ReportContribution.stored("facts", public_id, facts))
        )
    return found


@dataclass(frozen=True, slots=True)
class Written:
    patients: list[int]
    """The patients named (of the organization asked about, if one was)."""
    last: int
    """The last record's audit id (the `through` asked from, if none)."""
    complete: bool
    """False if `limit` records were found: more may follow `last`."""


async def written_since(
    through: int,
    organization_pk: int | None = None,
    *,
    upto: int | None = None,
    limit: int | None = None,
    connection: BaseDBAsyncClient | None = None,
) -> Written:
    """The patients with a write record after audit id `through` (up to `upto`, the first
    `limit` records)."""
    events = (
        AuditEvent.filter(id__gt=through, event__in=WRITE_EVENTS, decision=Decision.ALLOW.value)
        .exclude(patient=None)
        .order_by("id")
        .using_db(connection)
    )
    if upto is not None:
        events = events.filter(id__lte=upto)
    if limit is not None:
        events = events.limit(limit)
    written = await events.values_list("id", "patient")
    complete = limit is None or len(written) < limit
    if not written:
        return Written([], through, complete)
    patients = Patient.filter(public_id__in={public_id for _, public_id in written})
    if organization_pk is not None:
        patients = patients.filter(organization_id=organization_pk)
    found = [int(pk) for (pk,) in await patients.using_db(connection).values_list("id")]
    return Written(found, int(written[-1][0]), complete)


def changes(before: Facts | None, after: Facts | None) -> Counter[Cell]:
    """What the cells change by when a patient counted by `before` is now counted by `after`
    (None: not counted)."""
    delta: Counter[Cell] = Counter()
    old = cells(before) if before is not None else set()
    new = cells(after) if after is not None else set()
    for cell in new - old:
        delta[cell] += 1
    for cell in old - new:
        delta[cell] -= 1
    return delta


@dataclass(frozen=True, slots=True)
class Counted:
    counts: dict[Key, int]
    """Patients per key, keys in `ordered(by)` order; empty cells absent."""
    total: int
    """Distinct patients the cells count."""


async def _generation() -> int | None:
    found = await ReportTally.filter(id=STATE).values_list("generation")
    return int(found[0][0]) if found else None


async def counted(
    keyring: Keyring, organization_pk: int, by: Sequence[Dimension], today: date
) -> Counted | None:
    """The aggregate's counts from the tally; None if the tally does not count to `today`'s
    year (not built yet, or the year turned), is more than BEHIND write records behind, or
    kept changing under every read."""
    bits = grouping(by)
    per_dx = any(SOURCES[d].per_diagnosis for d in by)
    total_bits = WITH_DIAGNOSIS if per_dx else ALL_PATIENTS
    for _ in range(READS):
        state = await ReportTally.get_or_none(id=STATE)
        if state is None or state.year != today.year:
            return None
        rows = await ReportCell.filter(
            organization_id=organization_pk, grouping__in=(bits, total_bits)
        ).values_list("public_id", "grouping", "key", "patients")
        since = await written_since(state.through, organization_pk, limit=BEHIND)
        if not since.complete:
            return None
        written = since.patients
        before = await recorded_facts(keyring, written)
        # The cells, and what they hold of each patient written since, as of one change of
        # the tally: a drain committing in between would count its patients twice or never.
        if await _generation() == state.generation:
            break
    else:
        return None
    now = await current_facts(keyring, written, today)
    delta: Counter[Cell] = Counter()
    for pk in written:
        after = now.get(pk)
        delta.update(changes(before.get(pk), after[2] if after else None))
    tallied: Counter[Key] = Counter()
    total = 0
    for public_id, cell_bits, blob, patients in rows:
        if cell_bits == total_bits:
            total += patients
            continue
        text = _opened(keyring, ReportCell.stored("key", public_id, blob))
        tallied[tuple(json.loads(text))] += patients
    for (cell_bits, key), change in delta.items():
        if cell_bits == bits:
            tallied[key] += change
        elif cell_bits == total_bits:
            total += change
    return Counted(_reordered(tallied, by), total)


def _reordered(tallied: Mapping[Key, int], by: Sequence[Dimension]) -> dict[Key, int]:
    """Keys from GROUPED's order to the order the table shows them in."""
    held = [d for d in GROUPED if d in by]
    places = [held.index(d) for d in ordered(by)]
    return {tuple(key[i] for i in places): count for key, count in tallied.items() if count > 0}
