"""A real record in and out: a Synthea Bundle imported as it is, then exported through
`$everything` by a physician on the patient's care team, carries the same modelled elements
(names, birth date, gender, MRN, conditions, quantity observations, encounters)."""

from __future__ import annotations

import json
from typing import Any

import httpx
from starlette.applications import Starlette

from crypto.keyring import Keyring
from interchange import systems
from interchange.outbound import fhir_id
from models import CareTeamAssignment, Patient, User
from tests.fhir_checks import by_type, valid
from tests.helpers import AS_USER
from tests.test_fhir_import import CARROLL, _import
from tests.world import World

SOURCE: dict[str, Any] = json.loads(CARROLL.read_text())


def _resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _quantities(observations: list[dict[str, Any]]) -> set[tuple[str, float, str]]:
    """(LOINC code, value, unit) of every quantity, a panel's components included."""
    found: set[tuple[str, float, str]] = set()
    for observation in observations:
        for part in [observation, *observation.get("component", [])]:
            quantity = part.get("valueQuantity")
            loinc = [
                c["code"] for c in part["code"].get("coding", []) if c["system"] == systems.LOINC
            ]
            if quantity and loinc:
                found.add((loinc[0], round(float(quantity["value"]), 2), quantity.get("unit", "")))
    return found


def _condition_codes(conditions: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(c["system"], c["code"]) for r in conditions for c in r["code"]["coding"][:1]}


async def test_a_synthea_record_round_trips(
    app: Starlette, client: httpx.AsyncClient, keyring: Keyring, world: World
) -> None:
    source = SOURCE
    report = await _import(keyring, CARROLL)
    assert report.created["Patient"] == 1
    patient = await Patient.all().order_by("-id").first()
    assert patient is not None
    await CareTeamAssignment.create(
        user=await User.get(username="doc"), patient=patient, patient_public_id=patient.public_id
    )

    path = f"/fhir/Patient/{fhir_id(patient.public_id)}/$everything"
    exported = by_type(valid(await client.get(path, headers={AS_USER: "doc"})))

    [before] = _resources(source, "Patient")
    [after] = exported["Patient"]
    assert after["name"][0]["family"] == before["name"][0]["family"]
    assert after["name"][0]["given"][0] == before["name"][0]["given"][0]
    assert after["birthDate"] == before["birthDate"]
    assert after["gender"] == before["gender"]
    mrn = [
        i["value"]
        for i in before["identifier"]
        if i.get("type", {}).get("coding", [{}])[0].get("code") == "MR"
    ]
    assert mrn[0] in {i["value"] for i in after["identifier"]}

    assert len(exported["Encounter"]) == len(_resources(source, "Encounter"))
    assert _condition_codes(exported["Condition"]) == _condition_codes(
        _resources(source, "Condition")
    )
    assert _quantities(exported["Observation"]) == _quantities(_resources(source, "Observation"))
