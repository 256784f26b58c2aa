"""Every role x every writable patient field, through HTTP: written and audited ALLOW, or
refused whole (FORBIDDEN naming the field, nothing written, audited DENY), or NOT_FOUND for a
patient outside the caller's rows. Written out independently of permissions/policy.py."""

from __future__ import annotations

import httpx
import pytest

from models import AuditEvent, Patient
from tests.helpers import AS_USER
from tests.world import World

UPDATE = """
mutation($id: ID!, $version: Int!, $input: PatientChanges!) {
  updatePatient(id: $id, version: $version, input: $input) { version }
}
"""
VALUES = {
    "mrn": ("MRN", "MRN-777001"),
    "givenName": ("NAME", "Alina"),
    "familyName": ("NAME", "Quintero"),
    "birthDate": ("DATE", "1980-05-18"),
    "ssn": ("SSN", "321-54-9876"),
    "phone": ("PHONE", "217-555-0111"),
    "email": ("EMAIL", "a.q@example.net"),
    "street": ("ADDRESS", "18 Lantern Row"),
    "city": ("ADDRESS", "Shelbyville"),
    "zip": ("ZIP", "62705"),
}
WRITES = {
    "doc": set(),
    "nurse": set(),
    "desk": {"NAME", "SSN", "MRN", "DATE", "ADDRESS", "ZIP", "PHONE", "EMAIL"},
    "billing": set(),
    "alice": {"ADDRESS", "ZIP", "PHONE", "EMAIL"},
    "rae": set(),
    "auditor": set(),
    "admin": set(),
}
SEES_OWN = {"doc", "nurse", "desk", "billing", "alice"}


@pytest.mark.parametrize("user", sorted(WRITES))
async def test_write_matrix(client: httpx.AsyncClient, world: World, user: str) -> None:
    own = world.patients["own"]
    version = 1
    for field, (category, value) in VALUES.items():
        response = await client.post(
            "/graphql",
            json={
                "query": UPDATE,
                "variables": {"id": own, "version": version, "input": {field: value}},
            },
            headers={AS_USER: user},
        )
        body = response.json()
        request_id = response.headers["x-request-id"]
        records = await AuditEvent.filter(request_id=request_id, event="UPDATE")
        if user not in SEES_OWN:
            assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"]
            assert records == []
        elif category in WRITES[user]:
            assert body["data"]["updatePatient"]["version"] == version + 1, (field, body)
            version += 1
            assert [(r.decision, r.accessed()) for r in records] == [
                ("ALLOW", [(f"Patient.{field}", f"updatePatient.input.{field}")])
            ]
        else:
            [error] = body["errors"]
            assert error["extensions"]["code"] == "FORBIDDEN", (field, body)
            assert error["extensions"]["field"] == f"input.{field}"
            assert [(r.decision, r.accessed()) for r in records] == [
                ("DENY", [(f"Patient.{field}", f"updatePatient.input.{field}")])
            ]
        assert (await Patient.get(public_id=own)).version == version
