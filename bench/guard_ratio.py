"""Measures what the @phi guard costs, as ratios taken in one run.

    python -m bench.guard_ratio [--patients 2000] [--rounds 25] [--postgres | --database-url URL]

R1: 200 patients with every PHI field as an authorised physician, through the full guard
    (decision, AES-GCM open, audit write), against the unprotected control schema over the same
    rows stored as plaintext (bench/control.py). Goal <= 1.25x.
R2: the same query for a principal denied or masked on most of its fields, against R1's: a
    check-in app acting for the front desk with scopes `patient.read phi.identifiers` (MRN
    allowed, SSN masked, the other 17 fields denied). Goal < 1.0x. Also printed: the front desk
    signed in itself (SSN masked, the 5 clinical fields denied), the closest built-in role.
R3: cost per added PHI field and per added patient (linear growth expected).
"""

from __future__ import annotations

import argparse
import base64
import random
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from tortoise.transactions import in_transaction

from api import runtime
from api.auth.sessions import user_principal
from api.demo import SyntheticPatient, create_patient, synthetic_patient
from api.oauth.bearer import acting_for
from bench.control import (
    ControlContext,
    PlainDiagnosis,
    PlainEncounter,
    PlainNote,
    PlainObservation,
    PlainPatient,
    control_schema,
)
from bench.harness import bench_database, command_line
from crypto.keyring import Keyring
from crypto.provider import LocalKeyProvider
from models import CareTeamAssignment, Organization, User
from models.keystore import load_keyring
from permissions.principal import Principal
from permissions.roles import Role
from permissions.scopes import Scope
from schema.build import build_schema
from schema.context import RequestContext

PATIENT_FIELDS = [
    "mrn", "givenName", "familyName", "birthDate", "ssn", "phone", "email", "street", "city", "zip",
]  # fmt: skip
CHILDREN = (
    "encounters { id kind startDate } diagnoses { id code description recordedDate } "
    "observations { id code value unit effectiveDate } notes { id text authoredDate }"
)
CHILD_PHI_FIELDS = 9
CARE_TEAM = 200
Pages = list[tuple[int, str | None]]


def page_query(fields: str, pages: Pages) -> str:
    parts = []
    for i, (first, after) in enumerate(pages):
        cursor = f', after: "{after}"' if after else ""
        parts.append(
            f"p{i}: patients(first: {first}{cursor}) {{ edges {{ node {{ id {fields} }} }} }}"
        )
    return "{ " + " ".join(parts) + " }"


async def seed(keyring: Keyring, count: int) -> tuple[User, User]:
    """`count` patients of one organization, each stored a second time as plaintext in the
    control's tables; a physician with the first 200 on their care team, and a front desk
    user of the organization."""
    rng = random.Random(7)  # noqa: S311 - synthetic data
    org = await Organization.create(name="bench")
    no_login = "!"  # not an Argon2 hash: these users cannot log in
    doc = await User.create(username="bench.doc", role=Role.PHYSICIAN, password_hash=no_login)
    desk = await User.create(
        username="bench.desk", role=Role.FRONT_DESK, password_hash=no_login, organization=org
    )
    async with in_transaction():
        for i in range(count):
            # Random demo MRNs collide by a few thousand; (organization, MRN) is unique.
            values = synthetic_patient(rng)
            values.demographics["mrn"] = f"BENCH-{i:06d}"
            patient = await create_patient(keyring, org, values)
            await _plain_copy(patient.public_id, org.id, values)
            if i < CARE_TEAM:
                await CareTeamAssignment.create(
                    user=doc, patient=patient, patient_public_id=patient.public_id
                )
    return doc, desk


async def _plain_copy(public_id: str, organization: int, values: SyntheticPatient) -> None:
    demographics: dict[str, Any] = dict(values.demographics)
    plain = await PlainPatient.create(
        public_id=public_id, organization_id=organization, **demographics
    )
    ids: dict[str, Any] = {"patient_id": plain.id, "public_id": public_id}
    await PlainEncounter.create(kind=values.encounter_kind.value, **{**values.encounter, **ids})
    await PlainDiagnosis.create(**{**values.diagnosis, **ids})
    await PlainObservation.create(unit=values.unit, **{**values.observation, **ids})
    await PlainNote.create(**{**values.note, **ids})


def principal(user: User) -> Principal:
    return user_principal(user, secrets.token_hex(12))


def check_in_app(desk: User) -> Principal:
    """A check-in app acting for the front-desk user, allowed to read identifiers only."""
    scopes = frozenset({Scope.PATIENT_READ.value, Scope.PHI_IDENTIFIERS.value})
    return acting_for(desk, "cli_bench_check_in", scopes, secrets.token_hex(12))


async def timed(run: Callable[[], Awaitable[Any]], rounds: int) -> float:
    """Median seconds of `rounds` runs; fails on any error but an expected FORBIDDEN."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        result = await run()
        samples.append(time.perf_counter() - start)
        unexpected = [
            e for e in result.errors or [] if (e.extensions or {}).get("code") != "FORBIDDEN"
        ]
        if unexpected:
            raise RuntimeError(unexpected[0])
    return statistics.median(samples)


class Bench:
    def __init__(self, keyring: Keyring, doc: User, desk: User, rounds: int) -> None:
        self.keyring, self.doc, self.desk, self.rounds = keyring, doc, desk, rounds
        self.schema = build_schema()

    def guarded(self, user: User, query: str) -> Awaitable[Any]:
        return self.as_principal(principal(user), query)

    def as_principal(self, who: Principal, query: str) -> Awaitable[Any]:
        context = RequestContext.create(who, self.keyring, self.schema.plans)
        return self.schema.execute(query, context_value=context)

    async def pages(self) -> tuple[Pages, Pages]:
        """Two pages of 100 over the physician's 200 patients, for each schema's cursors."""
        context = RequestContext.create(principal(self.doc), self.keyring, self.schema.plans)
        rows = await context.access.rows.patients()
        visible = await rows.order_by("public_id").values_list("public_id", flat=True)
        # The control has no row access: it holds exactly the physician's 200 rows.
        await PlainPatient.exclude(public_id__in=list(visible)).delete()
        middle = str(visible[99])
        guarded = [(100, None), (100, base64.urlsafe_b64encode(middle.encode()).decode())]
        return guarded, [(100, None), (100, middle)]

    async def report(self) -> None:
        guarded_pages, control_pages = await self.pages()
        everything = " ".join(PATIENT_FIELDS) + " " + CHILDREN
        q_guard = page_query(everything, guarded_pages)
        q_control = page_query(everything, control_pages)

        def control() -> Awaitable[Any]:
            return control_schema.execute(q_control, context_value=ControlContext())

        def app() -> Awaitable[Any]:
            return self.as_principal(check_in_app(self.desk), q_guard)

        await timed(lambda: self.guarded(self.doc, q_guard), 3)
        await timed(control, 3)
        t_control, t_guard, t_app, t_desk = [], [], [], []
        for _ in range(self.rounds):  # interleaved, so noise hits all four alike
            t_control.append(await timed(control, 1))
            t_guard.append(await timed(lambda: self.guarded(self.doc, q_guard), 1))
            t_app.append(await timed(app, 1))
            t_desk.append(await timed(lambda: self.guarded(self.desk, q_guard), 1))
        # Each round's own ratio, then their median: a pause that hits one round (a collection,
        # a neighbour's burst) moves one ratio, not the sums of all.
        r1 = statistics.median(g / c for g, c in zip(t_guard, t_control, strict=True))
        r2 = statistics.median(a / g for a, g in zip(t_app, t_guard, strict=True))
        r2_desk = statistics.median(d / g for d, g in zip(t_desk, t_guard, strict=True))
        control_ms, guard_ms = (
            1000 * statistics.median(t_control),
            1000 * statistics.median(t_guard),
        )
        fields = CARE_TEAM * (len(PATIENT_FIELDS) + CHILD_PHI_FIELDS)
        print(
            f"\nR1 full guard / control, {CARE_TEAM} patients x {fields // CARE_TEAM} PHI fields:"
        )
        print(
            f"   control {control_ms:8.1f} ms   guarded {guard_ms:8.1f} ms"
            f"   ratio {r1:.2f}x  (median of per-round ratios; goal <= 1.25x)"
        )
        # The fastest round of each is the one the machine (a neighbour, a collection)
        # disturbed least: their ratio is the steadiest estimate of the work itself.
        print(
            f"   fastest rounds: control {1000 * min(t_control):6.1f} ms"
            f"   guarded {1000 * min(t_guard):6.1f} ms   ratio {min(t_guard) / min(t_control):.2f}x"
        )
        print(f"   guard cost per PHI field: {1000 * (guard_ms - control_ms) / fields:.2f} us")
        for title, times, ratio, goal in (
            ("R2 check-in app for the front desk (17 of 19 denied, SSN masked)", t_app, r2,
             "  (goal < 1.0x)"),
            ("   front desk signed in (5 of 19 denied, SSN masked)", t_desk, r2_desk, ""),
        ):  # fmt: skip
            print(f"{title} / physician:")
            print(
                f"   {1000 * statistics.median(times):8.1f} ms   ratio {ratio:.2f}x{goal};"
                f" fastest rounds {min(times) / min(t_guard):.2f}x"
            )
        await self.growth(guarded_pages, everything)

    async def growth(self, pages: Pages, everything: str) -> None:
        print("R3 growth (median of rounds):")
        per_field = []
        for k in (1, 2, 5, 10):
            query = page_query(" ".join(PATIENT_FIELDS[:k]), pages)
            t = await timed(partial(self.guarded, self.doc, query), self.rounds)
            per_field.append((k, t))
            print(f"   {k:2d} PHI fields x {CARE_TEAM} patients: {1000 * t:7.2f} ms")
        (k0, t0), (k1, t1) = per_field[0], per_field[-1]
        slope = (t1 - t0) / (k1 - k0) / CARE_TEAM
        print(f"   -> {1e6 * slope:.2f} us per added PHI field per patient")
        for count in (25, 50, 100, 200):
            sized: Pages = [(min(count, 100), None)]
            if count > 100:
                sized.append((count - 100, pages[1][1]))
            query = page_query(everything, sized)
            t = await timed(partial(self.guarded, self.doc, query), self.rounds)
            print(
                f"   {count:3d} patients, all PHI fields: {1000 * t:7.2f} ms"
                f" = {1e6 * t / count:6.1f} us per patient"
            )


async def main(args: argparse.Namespace) -> None:
    async with bench_database(args.database_url) as url:
        keyring, doc, desk = await seeded(args.patients, url)
        await Bench(keyring, doc, desk, args.rounds).report()


async def seeded(count: int, url: str) -> tuple[Keyring, User, User]:
    """A fresh keyring and `count` patients (see `seed`), the heap then settled as a server
    worker's is once started (api/runtime.py)."""
    keyring = await load_keyring(LocalKeyProvider(secrets.token_bytes(32)))
    started = time.perf_counter()
    doc, desk = await seed(keyring, count)
    elapsed = time.perf_counter() - started
    print(f"seeded {count} patients in {elapsed:.1f} s ({url.split(':')[0]})")
    runtime.settle()
    return keyring, doc, desk


if __name__ == "__main__":
    command_line(__doc__, main, rounds=25)
