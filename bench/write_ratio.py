"""Measures what the guard costs on writes, as ratios taken in one run.

    python -m bench.write_ratio [--patients 2000] [--rounds 31] [--batch 20]
                                [--postgres | --database-url URL]

With `--patients` patients present (seeded as bench/guard_ratio.py seeds them), a front desk
user registers patients and changes patients' contact data, through the guarded schema and
through the unprotected control (bench/control.py: the same writes without write decision,
sealing, blind indexes or audit record):

W1: registerPatient with all 10 fields set. Goal <= 1.3x.
W2: updatePatient of phone, street, city and zip, naming the version last read, with a reason.
    Goal <= 1.3x.

Each round writes `--batch` of each kind on each side, the sides in alternating order; printed,
for wall time and for this process's CPU time: the median of per-round ratios and the ratio of
each side's fastest round. Both responses
select `id version` only, so the guarded side's cost is the write's, not a read's.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from itertools import count
from typing import Any

from api.auth.sessions import user_principal
from bench.control import ControlContext, control_schema
from bench.guard_ratio import seeded
from bench.harness import bench_database, command_line
from crypto.keyring import Keyring
from models import Patient, User
from schema.build import PhigateSchema, build_schema
from schema.context import RequestContext

REGISTER = (
    "mutation($input: RegisterPatientInput!) { registerPatient(input: $input) { id version } }"
)
UPDATE = (
    "mutation($id: ID!, $version: Int!, $input: PatientChanges!, $reason: String) {"
    " updatePatient(id: $id, version: $version, input: $input, reason: $reason) { id version } }"
)
REASON = "Patient called with a new address"
Execute = Callable[[str, dict[str, Any]], Awaitable[Any]]


def new_patient(n: int) -> dict[str, str]:
    return {
        "mrn": f"W{n:07d}",
        "givenName": "Rowan",
        "familyName": "Benchmark",
        "birthDate": "1984-07-19",
        "ssn": f"9{n % 100:02d}-{n % 89 + 10:02d}-{n % 9000 + 1000:04d}",
        "phone": f"217-555-{n % 10000:04d}",
        "email": f"rowan{n}@example.org",
        "street": f"{n % 998 + 1} Bench Street",
        "city": "Springfield",
        "zip": "62701",
    }


def new_address(n: int) -> dict[str, str]:
    return {
        "phone": f"312-555-{n % 10000:04d}",
        "street": f"{n % 998 + 1} Moved Avenue",
        "city": "Lakeside",
        "zip": "92040",
    }


@dataclass(frozen=True, slots=True)
class Timing:
    wall: float
    cpu: float
    """This process's CPU time: steadier than wall time on a shared machine, but without the
    database server's share of the work (its trips, its writes)."""

    @classmethod
    def now(cls) -> Timing:
        return cls(time.perf_counter(), time.process_time())

    def __sub__(self, other: Timing) -> Timing:
        return Timing(self.wall - other.wall, self.cpu - other.cpu)


class Side:
    """One schema's writes: registers new patients, updates its own copies of the seeded ones
    with the version each update returned."""

    def __init__(self, execute: Execute, patients: list[str]) -> None:
        self.execute = execute
        self.versions = dict.fromkeys(patients, 1)
        self._order = list(patients)
        self._next = 0

    async def _run(self, query: str, variables: dict[str, Any], root: str) -> dict[str, Any]:
        result = await self.execute(query, variables)
        if result.errors:
            raise RuntimeError(result.errors[0])
        written: dict[str, Any] = result.data[root]
        return written

    async def register(self, numbers: list[int]) -> Timing:
        started = Timing.now()
        for n in numbers:
            await self._run(REGISTER, {"input": new_patient(n)}, "registerPatient")
        return Timing.now() - started

    async def update(self, numbers: list[int]) -> Timing:
        started = Timing.now()
        for n in numbers:
            patient = self._order[self._next % len(self._order)]
            self._next += 1
            variables = {
                "id": patient, "version": self.versions[patient], "input": new_address(n),
                "reason": REASON,
            }  # fmt: skip
            written = await self._run(UPDATE, variables, "updatePatient")
            self.versions[patient] = written["version"]
        return Timing.now() - started


def guarded(schema: PhigateSchema, keyring: Keyring, desk: User) -> Execute:
    def execute(query: str, variables: dict[str, Any]) -> Awaitable[Any]:
        who = user_principal(desk, f"bench-{next(_requests)}")
        context = RequestContext.create(who, keyring, schema.plans)
        return schema.execute(query, variable_values=variables, context_value=context)

    return execute


def control(organization: int) -> Execute:
    def execute(query: str, variables: dict[str, Any]) -> Awaitable[Any]:
        context = ControlContext(organization_id=organization)
        return control_schema.execute(query, variable_values=variables, context_value=context)

    return execute


_requests = count()


def _print(title: str, guard: list[Timing], plain: list[Timing], batch: int) -> None:
    print(f"{title}:")
    for name, kind in (("wall", "wall"), ("CPU ", "cpu")):
        g = [getattr(t, kind) for t in guard]
        c = [getattr(t, kind) for t in plain]
        ratio = statistics.median(a / b for a, b in zip(g, c, strict=True))
        print(
            f"   {name}  control {1000 * statistics.median(c) / batch:6.2f} ms   guarded"
            f" {1000 * statistics.median(g) / batch:6.2f} ms per write   ratio {ratio:.2f}x;"
            f" fastest rounds {min(g) / min(c):.2f}x"
        )


async def report(keyring: Keyring, desk: User, rounds: int, batch: int) -> None:
    schema = build_schema()
    # The same patients on both sides: the control's copies carry the same public ids.
    seeded = Patient.all().order_by("id").limit(rounds * batch)
    ids = [str(i) for i in await seeded.values_list("public_id", flat=True)]
    sides = (Side(guarded(schema, keyring, desk), ids), Side(control(desk.organization_id), ids))  # type: ignore[attr-defined]
    numbers = count()
    # Warm both (documents parsed, shapes compiled, connections open), outside the rounds.
    for side in sides:
        await side.register([next(numbers) for _ in range(3)])
        await side.update([next(numbers) for _ in range(3)])
    registers: tuple[list[Timing], list[Timing]] = ([], [])
    updates: tuple[list[Timing], list[Timing]] = ([], [])
    for r in range(rounds):
        order = (0, 1) if r % 2 == 0 else (1, 0)  # which side goes first alternates
        for i in order:
            registers[i].append(await sides[i].register([next(numbers) for _ in range(batch)]))
        for i in order:
            updates[i].append(await sides[i].update([next(numbers) for _ in range(batch)]))
    present = await Patient.all().count()
    print(f"\nfront desk writes, {batch} a round, {rounds} rounds, {present} patients at the end")
    print("(median of per-round ratios, goal <= 1.3x; the ratio of each side's fastest round)")
    _print("W1 registerPatient (10 PHI fields) guarded / control", *registers, batch)
    _print("W2 updatePatient (4 PHI fields, version, reason) guarded / control", *updates, batch)


async def main(args: argparse.Namespace) -> None:
    async with bench_database(args.database_url) as url:
        keyring, _, desk = await seeded(args.patients, url)
        await report(keyring, desk, args.rounds, args.batch)


def _batch(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch", type=int, default=20, help="writes of each kind per round")


if __name__ == "__main__":
    command_line(__doc__, main, rounds=31, more=_batch)
