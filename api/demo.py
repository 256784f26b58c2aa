"""Synthetic demo data: clearly fake people (SSNs in the never-issued 9xx range, 555-01xx phone
numbers, example.org mail), one login per role, care teams and a proxy grant."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from tortoise.transactions import in_transaction

from api.auth.passwords import hash_password
from crypto.keyring import Keyring
from models import (
    CareTeamAssignment,
    ClinicalNote,
    Diagnosis,
    Encounter,
    EncounterKind,
    Observation,
    Organization,
    Patient,
    ProxyGrant,
    User,
)
from permissions.roles import ProxyScope, Role

DEMO_ORG = "Demo General Hospital (synthetic data)"

DEMO_USERS: tuple[tuple[str, Role], ...] = (
    ("dr.grey", Role.PHYSICIAN),
    ("nurse.joy", Role.NURSE),
    ("desk.ada", Role.FRONT_DESK),
    ("billing.bo", Role.BILLING),
    ("patient.pat", Role.PATIENT),
    ("proxy.parent", Role.PATIENT),
    ("research.rae", Role.RESEARCHER),
    ("auditor.al", Role.AUDITOR),
    ("admin.ace", Role.ADMIN),
)

GIVEN = ("Alex", "Blair", "Casey", "Devon", "Emery", "Finley", "Harper", "Jordan", "Kai", "Logan")
FAMILY = ("Testperson", "Sample", "Fakename", "Placeholder", "Fictitious", "Synthetic", "Mockwell")
CITIES = (("Springfield", "62701"), ("Riverton", "82501"), ("Lakeside", "92040"))
DIAGNOSES = (
    ("E11.9", "Type 2 diabetes mellitus without complications"),
    ("I10", "Essential (primary) hypertension"),
    ("J45.909", "Unspecified asthma, uncomplicated"),
)
LABS = (("4548-4", "Hemoglobin A1c", "%"), ("2345-7", "Glucose", "mg/dL"))


@dataclass(frozen=True, slots=True)
class DemoLogin:
    username: str
    role: Role
    password: str


def _iso(day: date) -> str:
    return day.isoformat()


async def create_patient(
    keyring: Keyring, org: Organization, rng: random.Random, user: User | None = None
) -> Patient:
    """A synthetic patient with encounters, diagnoses, lab results and a note, all sealed."""
    n = rng.randrange(10**6)
    mrn = f"DEMO-{n:06d}"
    ssn = f"9{rng.randrange(100):02d}-{rng.randrange(1, 100):02d}-{rng.randrange(1, 10**4):04d}"
    email = f"patient{n}@example.org"
    city, zip_code = rng.choice(CITIES)
    born = date(1930, 1, 1) + timedelta(days=rng.randrange(90 * 365))
    patient = Patient(organization=org, user=user)
    patient.seal_identity(
        keyring,
        mrn=mrn,
        ssn=ssn,
        given_name=rng.choice(GIVEN),
        family_name=rng.choice(FAMILY),
        birth_date=_iso(born),
        phone=f"555-01{rng.randrange(100):02d}",
        email=email,
        street=f"{rng.randrange(1, 999)} Example Street",
        city=city,
        zip=zip_code,
    )
    await patient.save()

    seen = date(2024, 1, 1) + timedelta(days=rng.randrange(600))
    encounter = Encounter(patient=patient, kind=rng.choice(list(EncounterKind)))
    encounter.seal(keyring, start_date=_iso(seen))
    await encounter.save()
    code, description = rng.choice(DIAGNOSES)
    diagnosis = Diagnosis(patient=patient, encounter=encounter)
    diagnosis.seal(keyring, code=code, description=description, recorded_date=_iso(seen))
    await diagnosis.save()
    loinc, _, unit = rng.choice(LABS)
    observation = Observation(patient=patient, unit=unit)
    observation.seal(
        keyring, code=loinc, value=f"{rng.uniform(4, 12):.1f}", effective_date=_iso(seen)
    )
    await observation.save()
    note = ClinicalNote(patient=patient)
    note.seal(
        keyring,
        text="Synthetic note: patient reports feeling well. Follow up in 3 months.",
        authored_date=_iso(seen),
    )
    await note.save()
    return patient


async def seed_demo(keyring: Keyring, patients: int = 20, seed: int = 0) -> list[DemoLogin]:
    """Create (or refresh) the demo organisation; returns logins with fresh passwords."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not secrets
    logins = [DemoLogin(name, role, secrets.token_urlsafe(12)) for name, role in DEMO_USERS]
    async with in_transaction():
        org = await Organization.get_or_none(name=DEMO_ORG)
        fresh = org is None
        if org is None:
            org = await Organization.create(name=DEMO_ORG)
        users: dict[str, User] = {}
        for login in logins:
            user = await User.get_or_none(username=login.username)
            if user is None:
                user = User(username=login.username, role=login.role, organization=org)
            user.password_hash = hash_password(login.password)
            await user.save()
            users[login.username] = user
        if fresh:
            await _seed_records(keyring, org, users, rng, patients)
    return logins


async def _seed_records(
    keyring: Keyring, org: Organization, users: dict[str, User], rng: random.Random, count: int
) -> None:
    own = await create_patient(keyring, org, rng, user=users["patient.pat"])
    child = await create_patient(keyring, org, rng)
    await ProxyGrant.create(
        patient=child,
        grantee=users["proxy.parent"],
        scope=ProxyScope.DEMOGRAPHICS,
        expires_at=datetime.now(UTC) + timedelta(days=365),
    )
    team = [own, child]
    for _ in range(max(0, count - 2)):
        team.append(await create_patient(keyring, org, rng))
    # Care teams cover half of the patients, so row access visibly differs between roles.
    for patient in team[: len(team) // 2]:
        for clinician in ("dr.grey", "nurse.joy"):
            await CareTeamAssignment.create(user=users[clinician], patient=patient)
