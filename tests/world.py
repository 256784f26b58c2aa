"""A small, fully known world: one user per role and three patients with known PHI values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from api.auth.passwords import hash_password
from crypto.keyring import Keyring
from models import (
    CareTeamAssignment,
    ClinicalNote,
    Diagnosis,
    Encounter,
    Observation,
    Organization,
    Patient,
    ProxyGrant,
    User,
)
from permissions.roles import ProxyScope, Role

PASSWORD = "correct horse battery staple"
USERS = {
    "doc": Role.PHYSICIAN,
    "nurse": Role.NURSE,
    "desk": Role.FRONT_DESK,
    "billing": Role.BILLING,
    "alice": Role.PATIENT,
    "parent": Role.PATIENT,
    "rae": Role.RESEARCHER,
    "auditor": Role.AUDITOR,
    "admin": Role.ADMIN,
}

OWN = {
    "mrn": "MRN-000123",
    "ssn": "900-12-3456",
    "given_name": "Alicia",
    "family_name": "Quintanilla",
    "birth_date": "1980-05-17",
    "gender": "female",
    "phone": "555-0142",
    "email": "alicia.q@example.org",
    "street": "17 Lantern Row",
    "city": "Springfield",
    "zip": "62704",
}
OTHER = {
    "mrn": "MRN-000456",
    "ssn": "912-34-5678",
    "given_name": "Bartholomew",
    "family_name": "Okonkwo",
    "birth_date": "1955-11-02",
    "gender": "male",
    "phone": "555-0199",
    "email": "bart.o@example.org",
    "street": "9 Quarry Lane",
    "city": "Riverton",
    "zip": "82501",
}
CHILD = {
    "mrn": "MRN-000789",
    "ssn": "923-45-6789",
    "given_name": "Cosima",
    "family_name": "Quintanilla",
    "birth_date": "2015-08-30",
    "gender": "female",
    "phone": "555-0177",
    "email": "cosima.q@example.org",
    "street": "17 Lantern Row",
    "city": "Springfield",
    "zip": "62704",
}
CLINICAL = {
    "encounter": {"kind": "EMERGENCY", "start_date": "2024-03-02"},
    "diagnosis": {
        "code": "E11.9",
        "description": "Type 2 diabetes mellitus without complications",
        "recorded_date": "2024-03-02",
    },
    "observation": {
        "code": "4548-4",
        "value": "7.3",
        "unit": "%",
        "effective_date": "2024-03-03",
    },
    "note": {"text": "Reports polyuria. Start metformin 500mg.", "authored_date": "2024-03-02"},
}


@dataclass
class World:
    patients: dict[str, str] = field(default_factory=dict)
    """name ('own', 'other', 'child') -> public id"""
    children: dict[str, str] = field(default_factory=dict)
    """kind ('encounter', ...) -> public id, all belonging to 'own'"""


async def _patient(
    keyring: Keyring, org: Organization, values: dict[str, str], user: User | None
) -> Patient:
    patient = Patient(organization=org, user=user)
    patient.seal_identity(keyring, **values)
    await patient.save()
    return patient


async def build_world(keyring: Keyring) -> World:
    world = World()
    org = await Organization.create(name="Test Hospital")
    password = hash_password(PASSWORD)
    users = {
        name: await User.create(username=name, role=role, organization=org, password_hash=password)
        for name, role in USERS.items()
    }
    own = await _patient(keyring, org, OWN, users["alice"])
    other = await _patient(keyring, org, OTHER, None)
    child = await _patient(keyring, org, CHILD, None)
    world.patients = {"own": own.public_id, "other": other.public_id, "child": child.public_id}
    for clinician in ("doc", "nurse"):
        await CareTeamAssignment.create(
            user=users[clinician], patient=own, patient_public_id=own.public_id
        )
    await ProxyGrant.create(
        patient=child,
        grantee=users["parent"],
        scope=ProxyScope.DEMOGRAPHICS,
        expires_at=datetime.now(UTC) + timedelta(days=30),
    )
    encounter = Encounter(patient=own)
    rows: dict[str, Encounter | Diagnosis | Observation | ClinicalNote] = {"encounter": encounter}
    for kind, row in rows.items():
        row.seal(keyring, **CLINICAL[kind])
    await encounter.save()
    rows = {
        "diagnosis": Diagnosis(patient=own, encounter=encounter),
        "observation": Observation(patient=own),
        "note": ClinicalNote(patient=own),
    }
    for kind, row in rows.items():
        row.seal(keyring, **CLINICAL[kind])
        await row.save()
        world.children[kind] = row.public_id
    world.children["encounter"] = encounter.public_id
    return world
