"""Keeps the report tally (models/tally.py) in step with the patients, off the request path.

Every write to a patient leaves a write record naming them (audit/writes.py), committed with
the write. The tally takes those records in, in id order, up to the end of the sealed audit
chain: below it every row is settled (audit/sealer.py), so no write record can still appear
there. For each patient named it compares the facts it counts them by with their values now,
and changes the cells by the difference. Taking a patient in twice changes nothing, so a record
taken in again (a rebuild's overlap, a retried drain) is harmless, and one write record is
enough however many fields it changed.

A rebuild counts every patient from scratch: when the tally is first made, after data came in
some other way than a write (`phigate demo`, a bulk load), and each new year, since ages and
the 90-year horizon are counted to the report year. Aggregates are counted from the patients
while there is no tally for the year (permissions/decisions.py).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from audit.health import Streak
from audit.periodic import repeated
from audit.sealer import sealed_through
from crypto.keyring import Keyring
from models import Patient
from models.locks import holds_lock
from models.tally import ReportCell, ReportContribution, ReportTally
from observe import metrics
from ops.sql import Statement, is_postgres
from permissions.deidentify import report_date
from permissions.tally import (
    STATE,
    Cell,
    Facts,
    cell_id,
    cells,
    changes,
    current_facts,
    recorded_facts,
    written_since,
)

log = logging.getLogger("phigate.reports")

BATCH = 500
"""Write records a drain takes in per transaction."""
CHUNK = 2_000
"""Patients a rebuild reads at a time."""
_LOCK_KEY = 0x7068696774616C79  # "phigtaly": one worker changes the tally at a time

Delta = Counter[tuple[int, Cell]]
"""(organization, cell) -> how many patients more it counts."""


_ADD = (
    'INSERT INTO report_cell (public_id, organization_id, "grouping", "key", patients)',
    "ON CONFLICT (public_id) DO UPDATE SET patients = report_cell.patients + excluded.patients",
)
_COUNT_BY = (
    "INSERT INTO report_contribution (public_id, patient_id, facts)",
    "ON CONFLICT (patient_id) DO UPDATE SET facts = excluded.facts",
)


async def _upsert(
    connection: BaseDBAsyncClient, statement: tuple[str, str], rows: list[list[Any]]
) -> None:
    if not rows:
        return
    marks = Statement(is_postgres(connection))
    values = ", ".join(marks.bind(None) for _ in rows[0])
    insert, conflict = statement
    await connection.execute_many(f"{insert} VALUES ({values}) {conflict}", rows)


async def _add(connection: BaseDBAsyncClient, keyring: Keyring, delta: Delta) -> int:
    """Changes the cells by `delta`; a cell not there yet is added with its key sealed."""
    rows = []
    for (organization_pk, cell), change in delta.items():
        if not change:
            continue
        public_id = cell_id(keyring, organization_pk, cell)
        key = keyring.seal(json.dumps(list(cell[1])), ReportCell.bound_to("key", public_id))
        rows.append([public_id, organization_pk, cell[0], key.blob, change])
    await _upsert(connection, _ADD, rows)
    return len(rows)


async def _count_by(
    connection: BaseDBAsyncClient, keyring: Keyring, facts: Iterable[tuple[int, str, Facts]]
) -> None:
    """Records what each patient (pk, public id) is now counted by."""
    rows = [
        [
            public_id,
            pk,
            keyring.seal(f.encode(), ReportContribution.bound_to("facts", public_id)).blob,
        ]
        for pk, public_id, f in facts
    ]
    await _upsert(connection, _COUNT_BY, rows)


async def take_in(
    connection: BaseDBAsyncClient, keyring: Keyring, patient_pks: list[int], today: date
) -> int:
    """Brings these patients' counts up to date; returns how many changed."""
    now = await current_facts(keyring, patient_pks, today, connection)
    before = await recorded_facts(keyring, patient_pks, connection)
    delta: Delta = Counter()
    changed = []
    for pk, (organization_pk, public_id, facts) in now.items():
        if before.get(pk) == facts:
            continue
        for cell, change in changes(before.get(pk), facts).items():
            delta[organization_pk, cell] += change
        changed.append((pk, public_id, facts))
    await _add(connection, keyring, delta)
    await _count_by(connection, keyring, changed)
    return len(changed)


async def drain(keyring: Keyring, today: date) -> bool | None:
    """Takes in up to BATCH settled write records. True if more may be waiting, False if the
    tally is up to date (or another worker is draining), None if it must be rebuilt first (not
    built, or built for another year)."""
    async with in_transaction() as connection:
        if not await holds_lock(connection, _LOCK_KEY):
            return False
        state = await ReportTally.get_or_none(id=STATE, using_db=connection)
        if state is None or state.year != today.year:
            return None
        upto = await sealed_through(connection)
        if upto <= state.through:
            return False
        since = await written_since(state.through, upto=upto, limit=BATCH, connection=connection)
        through = upto if since.complete else since.last
        changed = await take_in(connection, keyring, since.patients, today)
        # Compare and set: should another writer have moved the tally meanwhile (SQLite, two
        # processes), this transaction rolls back instead of counting twice.
        moved = (
            await ReportTally.filter(id=STATE, through=state.through, generation=state.generation)
            .using_db(connection)
            .update(through=through, generation=state.generation + (1 if changed else 0))
        )
        if moved != 1:
            raise RuntimeError("the report tally moved during a drain")
    metrics.REPORT_TALLY_PATIENTS.inc(changed)
    return through < upto


async def _clear_cells(connection: BaseDBAsyncClient) -> int:
    """Deletes up to CHUNK cells; returns how many."""
    some = ReportCell.all().using_db(connection).limit(CHUNK).values_list("id")
    ids = [pk for (pk,) in await some]
    if ids:
        await ReportCell.filter(id__in=ids).using_db(connection).delete()
    return len(ids)


@dataclass(frozen=True, slots=True)
class Built:
    patients: int
    cells: int
    seconds: float


async def rebuild(keyring: Keyring, today: date) -> Built | None:
    """Counts every patient again, in one transaction (aggregates read the old tally until
    it commits); None if another worker is rebuilding."""
    started = time.perf_counter()
    async with in_transaction() as connection:
        if not await holds_lock(connection, _LOCK_KEY):
            return None
        state = await ReportTally.get_or_none(id=STATE, using_db=connection)
        # Write records up to here are in the values read below; later ones are taken in
        # again by the drains, which changes nothing where they are already counted.
        through = await sealed_through(connection)
        # Cells go in slices, each statement short (the server's statement timeout); the
        # patients' facts are written over where they are (a removed patient's go with it).
        while await _clear_cells(connection):
            pass
        totals: Delta = Counter()
        patients, after = 0, 0
        while True:
            chunk = await (
                Patient.filter(id__gt=after)
                .order_by("id")
                .limit(CHUNK)
                .using_db(connection)
                .values_list("id")
            )
            if not chunk:
                break
            pks = [int(pk) for (pk,) in chunk]
            after = pks[-1]
            now = await current_facts(keyring, pks, today, connection)
            for organization_pk, _, facts in now.values():
                totals.update((organization_pk, cell) for cell in cells(facts))
            await _count_by(connection, keyring, ((pk, p, f) for pk, (_, p, f) in now.items()))
            patients += len(now)
        written = await _add(connection, keyring, totals)
        values = {"year": today.year, "through": through, "built_at": datetime.now(UTC)}
        if state is None:
            await ReportTally.create(id=STATE, generation=1, using_db=connection, **values)
        else:
            await (
                ReportTally.filter(id=STATE)
                .using_db(connection)
                .update(generation=state.generation + 1, **values)
            )
    return Built(patients, written, time.perf_counter() - started)


async def bring_up_to_date(keyring: Keyring, today: date) -> Built | None:
    """Drains every settled write record, rebuilding first if the tally needs it; returns the
    rebuild if there was one."""
    built = None
    while True:
        more = await drain(keyring, today)
        if more is None:
            built = await rebuild(keyring, today)
            if built is None:
                return None
        elif not more:
            return built


async def _tally_round(keyring: Keyring) -> None:
    built = await bring_up_to_date(keyring, report_date())
    if built is not None:
        log.info(
            "report tally rebuilt: %d patients, %d cells, %.1f s",
            built.patients, built.cells, built.seconds,
        )  # fmt: skip


def background_tally(
    keyring: Keyring, interval: timedelta
) -> contextlib.AbstractAsyncContextManager[Streak]:
    """Keeps the tally up to date beside the app; a zero interval leaves it to
    `phigate reports tally`."""
    # Not at once: workers starting together on one SQLite file would each rebuild while the
    # others start; aggregates are counted from the patients until the tally is there.
    return repeated(
        lambda: _tally_round(keyring), interval, metrics.REPORT_TALLY_FAILURES, log,
        "report tally update", first_at_once=False,
    )  # fmt: skip
