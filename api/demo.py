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
from ops.tally import rebuild
from permissions.deidentify import report_date
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


@dataclass(frozen=True, slots=True)
class SyntheticPatient:
    """Plaintext values for one synthetic patient and one of each clinical record."""

    demographics: dict[str, str]
    encounter_kind: EncounterKind
    encounter: dict[str, str]
    diagnosis: dict[str, str]
    observation: dict[str, str]
    unit: str
    note: dict[str, str]


def synthetic_patient(rng: random.Random) -> SyntheticPatient:
    n = rng.randrange(10**6)
    city, zip_code = rng.choice(CITIES)
    born = date(1930, 1, 1) + timedelta(days=rng.randrange(90 * 365))
    seen = _iso(date(2024, 1, 1) + timedelta(days=rng.randrange(600)))
    code, description = rng.choice(DIAGNOSES)
    loinc, _, unit = rng.choice(LABS)
    return SyntheticPatient(
        demographics={
            "mrn": f"DEMO-{n:06d}",
            "ssn": f"9{rng.randrange(100):02d}-{rng.randrange(1, 100):02d}-"
            f"{rng.randrange(1, 10**4):04d}",
            "given_name": rng.choice(GIVEN),
            "family_name": rng.choice(FAMILY),
            "birth_date": _iso(born),
            # From the number, not a further draw: the draws after it stay as they were.
            "gender": ("female", "male")[n % 2],
            "phone": f"555-01{rng.randrange(100):02d}",
            "email": f"patient{n}@example.org",
            "street": f"{rng.randrange(1, 999)} Example Street",
            "city": city,
            "zip": zip_code,
        },
        encounter_kind=rng.choice(list(EncounterKind)),
        encounter={"start_date": seen},
        diagnosis={"code": code, "description": description, "recorded_date": seen},
        observation={"code": loinc, "value": f"{rng.uniform(4, 12):.1f}", "effective_date": seen},
        unit=unit,
        note={
            "text": "Synthetic note: patient reports feeling well. Follow up in 3 months.",
            "authored_date": seen,
        },
    )


async def create_patient(
    keyring: Keyring, org: Organization, values: SyntheticPatient, user: User | None = None
) -> Patient:
    """Store a synthetic patient with an encounter, diagnosis, lab result and note, all sealed."""
    patient = Patient(organization=org, user=user)
    patient.seal_identity(keyring, **values.demographics)
    await patient.save()
    encounter = Encounter(patient=patient)
    encounter.seal(keyring, kind=values.encounter_kind.value, **values.encounter)
    await encounter.save()
    records: list[Diagnosis | Observation | ClinicalNote] = [
        Diagnosis(patient=patient, encounter=encounter),
        Observation(patient=patient),
        ClinicalNote(patient=patient),
    ]
    for record, plaintext in zip(
        records,
        (values.diagnosis, {**values.observation, "unit": values.unit}, values.note),
        strict=True,
    ):
        record.seal(keyring, **plaintext)
        await record.save()
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
            # Seeded rows have no write records: the report tally counts them from scratch.
            await rebuild(keyring, report_date())
    return logins


async def _seed_records(
    keyring: Keyring, org: Organization, users: dict[str, User], rng: random.Random, count: int
) -> None:
    own = await create_patient(keyring, org, synthetic_patient(rng), user=users["patient.pat"])
    child = await create_patient(keyring, org, synthetic_patient(rng))
    await ProxyGrant.create(
        patient=child,
        grantee=users["proxy.parent"],
        scope=ProxyScope.DEMOGRAPHICS,
        expires_at=datetime.now(UTC) + timedelta(days=365),
    )
    team = [own, child]
    for _ in range(max(0, count - 2)):
        team.append(await create_patient(keyring, org, synthetic_patient(rng)))
    # Care teams cover half of the patients, so row access visibly differs between roles.
    for patient in team[: len(team) // 2]:
        for clinician in ("dr.grey", "nurse.joy"):
            await CareTeamAssignment.create(
                user=users[clinician], patient=patient, patient_public_id=patient.public_id
            )
