"""Measures what the @phi guard costs, as ratios taken in one run.

    python -m bench.guard_ratio [--patients 2000] [--rounds 25] [--database-url URL]

R1: 200 patients with every PHI field as an authorised physician, through the full guard
    (decision, AES-GCM open, audit write), against the unprotected control schema over the same
    rows stored as plaintext (bench/control.py). Goal <= 1.25x.
R2: the same query as front desk (clinical fields denied, SSN masked) against R1's query.
R3: cost per added PHI field and per added patient (linear growth expected).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tortoise import Tortoise
from tortoise.transactions import in_transaction

from api.db import migrate, tortoise_config
from api.demo import SyntheticPatient, create_patient, synthetic_patient
from bench.control import (
    ControlContext,
    PlainDiagnosis,
    PlainEncounter,
    PlainNote,
    PlainObservation,
    PlainPatient,
    control_schema,
)
from crypto.keystore import load_keyring
from crypto.keyring import Keyring
from crypto.provider import LocalKeyProvider
from models import CareTeamAssignment, Organization, User
from permissions.policy import DEFAULT_PURPOSE
from permissions.principal import Principal
from permissions.roles import Role
from schema.build import build_schema
from schema.context import RequestContext
from tests.pgcluster import throwaway_database

PATIENT_FIELDS = (
    "mrn givenName familyName birthDate ssn phone email street city zip".split()
)
CHILDREN = (
    "encounters { id kind startDate } diagnoses { id code description recordedDate } "
    "observations { id code value unit effectiveDate } notes { id text authoredDate }"
)


def page_query(fields: str, pages: list[tuple[int, str | None]]) -> str:
    parts = []
    for i, (first, after) in enumerate(pages):
        cursor = f', after: "{after}"' if after else ""
        parts.append(f"p{i}: patients(first: {first}{cursor}) {{ edges {{ node {{ id {fields} }} }} }}")
    return "{ " + " ".join(parts) + " }"


async def seed(keyring: Keyring, count: int, care_team: int) -> tuple[User, User]:
    import random

    rng = random.Random(7)  # noqa: S311 - synthetic data
    org = await Organization.create(name="bench")
    doc = await User.create(username="bench.doc", role=Role.PHYSICIAN, password_hash="-")
    desk = await User.create(username="bench.desk", role=Role.FRONT_DESK, password_hash="-")
    async with in_transaction():
        for i in range(count):
            values = synthetic_patient(rng)
            patient = await create_patient(keyring, org, values)
            await _plain_copy(patient.public_id, values)
            if i < care_team:
                await CareTeamAssignment.create(user=doc, patient=patient)
    return doc, desk


async def _plain_copy(public_id: str, values: SyntheticPatient) -> None:
    plain = await PlainPatient.create(public_id=public_id, **values.demographics)
    ids = {"patient_id": plain.id, "public_id": public_id}
    await PlainEncounter.create(kind=values.encounter_kind.value, **values.encounter, **ids)
    await PlainDiagnosis.create(**values.diagnosis, **ids)
    await PlainObservation.create(unit=values.unit, **values.observation, **ids)
    await PlainNote.create(**values.note, **ids)


def principal(user: User) -> Principal:
    return Principal(
        actor=user.public_id,
        role=user.role,
        purpose=DEFAULT_PURPOSE[user.role],
        request_id=secrets.token_hex(12),
        user_pk=user.id,
    )


async def timed(run: Callable[[], Awaitable[Any]], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        result = await run()
        samples.append(time.perf_counter() - start)
        if result.errors and not all(
            (e.extensions or {}).get("code") == "FORBIDDEN" for e in result.errors
        ):
            raise RuntimeError(result.errors[0])
    return statistics.median(samples)


async def main(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="phigate-bench-"))
    url = args.database_url or f"sqlite://{folder / 'bench.sqlite3'}"
    await migrate(url)
    config = tortoise_config(url)
    config["apps"]["bench"] = {"models": ["bench.control"], "default_connection": "default"}
    await Tortoise.init(config=config)
    # The control tables are benchmark scaffolding, not the product: created directly.
    await Tortoise.generate_schemas(safe=True)
    try:
        keyring = await load_keyring(LocalKeyProvider(secrets.token_bytes(32)))
        started = time.perf_counter()
        doc, desk = await seed(keyring, args.patients, care_team=200)
        print(f"seeded {args.patients} patients in {time.perf_counter() - started:.1f} s ({url.split(':')[0]})")
        await report(keyring, doc, desk, args.rounds)
    finally:
        await Tortoise.close_connections()


async def report(keyring: Keyring, doc: User, desk: User, rounds: int) -> None:
    schema = build_schema()
    all_fields = " ".join(PATIENT_FIELDS) + " " + CHILDREN

    async def protected(user: User, query: str) -> Any:
        return await schema.execute(query, context_value=RequestContext.create(principal(user), keyring))

    async def control(query: str) -> Any:
        return await control_schema.execute(query, context_value=ControlContext())

    visible = await (await RequestContext.create(principal(doc), keyring).rows.patients()).order_by(
        "public_id"
    ).values_list("public_id", flat=True)
    second = visible[99]
    guarded_pages = [(100, None), (100, base64.urlsafe_b64encode(second.encode()).decode())]
    control_ids = await PlainPatient.filter(public_id__in=visible).order_by("public_id").values_list(
        "public_id", flat=True
    )
    assert list(control_ids) == list(visible[: len(control_ids)])
    # The control has no row access: it pages over exactly the physician's 200 rows.
    await PlainPatient.exclude(public_id__in=visible).delete()
    control_pages = [(100, None), (100, second)]

    q_guard = page_query(all_fields, guarded_pages)
    q_control = page_query(all_fields, control_pages)
    warm = 3
    await timed(lambda: protected(doc, q_guard), warm)
    await timed(lambda: control(q_control), warm)
    t_guard = t_control = t_desk = 0.0
    for _ in range(rounds):
        t_control += await timed(lambda: control(q_control), 1)
        t_guard += await timed(lambda: protected(doc, q_guard), 1)
        t_desk += await timed(lambda: protected(desk, q_guard), 1)
    fields_per_request = 200 * (len(PATIENT_FIELDS) + 9)
    print(f"\nR1 full guard / control, 200 patients x {fields_per_request // 200} PHI fields:")
    print(f"   control {1000 * t_control / rounds:8.1f} ms   guarded {1000 * t_guard / rounds:8.1f} ms"
          f"   ratio {t_guard / t_control:.2f}x  (goal <= 1.25x)")
    print(f"   guard cost per PHI field: {1e6 * (t_guard - t_control) / rounds / fields_per_request:.2f} us")
    print("R2 front desk (clinical denied, SSN masked) / physician:")
    print(f"   {1000 * t_desk / rounds:8.1f} ms   ratio {t_desk / t_guard:.2f}x  (goal < 1.0x)")

    print("R3 growth (median of rounds):")
    per_field = []
    for k in (1, 2, 5, 10):
        query = page_query(" ".join(PATIENT_FIELDS[:k]), guarded_pages)
        t = await timed(lambda query=query: protected(doc, query), rounds)  # type: ignore[misc]
        per_field.append((k, t))
        print(f"   {k:2d} PHI fields x 200 patients: {1000 * t:7.2f} ms")
    slope = (per_field[-1][1] - per_field[0][1]) / (per_field[-1][0] - per_field[0][0]) / 200
    print(f"   -> {1e6 * slope:.2f} us per added PHI field per patient")
    for n in (25, 50, 100, 200):
        pages = [(min(n, 100), None)] + ([(n - 100, guarded_pages[1][1])] if n > 100 else [])
        query = page_query(all_fields, pages)
        t = await timed(lambda query=query: protected(doc, query), rounds)  # type: ignore[misc]
        print(f"   {n:3d} patients, all PHI fields: {1000 * t:7.2f} ms = {1e6 * t / n:6.1f} us per patient")


def run() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=25)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--database-url", help="an empty database (default: a fresh SQLite file)")
    where.add_argument(
        "--postgres", action="store_true", help="start a throwaway PostgreSQL cluster and use it"
    )
    args = parser.parse_args()
    if not args.postgres:
        asyncio.run(main(args))
        return
    with throwaway_database() as url:
        args.database_url = url
        asyncio.run(main(args))


if __name__ == "__main__":
    run()
