"""Synthetic patients for report tests, sealed through the real models and keyring."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from api.auth.passwords import hash_password
from crypto.keyring import Keyring
from models import ClinicalNote, Diagnosis, Encounter, EncounterKind, Organization, Patient, User
from permissions.roles import Role
from tests.world import PASSWORD


def years_before(today: date, years: int, days: int = 0) -> str:
    """The ISO date `years` years and `days` days before `today` (29 February -> 28)."""
    try:
        shifted = today.replace(year=today.year - years)
    except ValueError:
        shifted = today.replace(year=today.year - years, day=28)
    return (shifted - timedelta(days=days)).isoformat()


async def member(org: Organization, username: str, role: Role) -> User:
    return await User.create(
        username=username, role=role, organization=org, password_hash=hash_password(PASSWORD)
    )


async def organization_with_researcher(name: str, username: str) -> Organization:
    org = await Organization.create(name=name)
    await member(org, username, Role.RESEARCHER)
    return org


async def seed_patient(
    keyring: Keyring,
    org: Organization,
    identity: dict[str, str],
    diagnoses: Sequence[tuple[str, str]] = (),
    note: str | None = None,
) -> Patient:
    """A patient with `identity` (Patient column -> value), (code, recorded date) diagnoses,
    each recorded at an encounter on the same date, and a clinical note."""
    patient = Patient(organization=org)
    # MRNs are unique per organization: a population built from one identity gets one each.
    taken = await Patient.filter(organization=org).count()
    patient.seal_identity(keyring, **{**identity, "mrn": f"{identity['mrn']}-{taken}"})
    await patient.save()
    for code, recorded in diagnoses:
        encounter = Encounter(patient=patient)
        encounter.seal(keyring, kind=EncounterKind.OUTPATIENT.value, start_date=recorded)
        await encounter.save()
        diagnosis = Diagnosis(patient=patient, encounter=encounter)
        diagnosis.seal(keyring, code=code, description=f"{code} text", recorded_date=recorded)
        await diagnosis.save()
    if note is not None:
        row = ClinicalNote(patient=patient)
        row.seal(keyring, text=note, authored_date=identity["birth_date"])
        await row.save()
    return patient


Group = tuple[int, str, str, Sequence[tuple[str, str]]]
"""(how many patients, ZIP, birth date, (code, recorded date) diagnoses): alike but for MRN."""


async def population(keyring: Keyring, org: Organization, groups: Sequence[Group]) -> None:
    for count, zip_code, birth, diagnoses in groups:
        for n in range(count):
            identity = {"mrn": f"M{n}", "given_name": "G", "family_name": "F",
                        "birth_date": birth, "zip": zip_code}  # fmt: skip
            await seed_patient(keyring, org, identity, diagnoses)
