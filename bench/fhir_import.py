"""Measures `phigate import` in records per second, against the plain insert rate of the same
rows, in one run, at a stated number of patients.

    python -m bench.fhir_import [--patients 1000] [--postgres | --database-url URL]

Writes one Synthea-shaped transaction Bundle per patient (a Patient with MR and SS
identifiers, 2 encounters, 2 SNOMED-coded conditions, 4 LOINC observations of which one is a
blood-pressure panel with two components, a DocumentReference note, and a Claim and an
ExplanationOfBenefit phigate does not model): 12 resources, 11 records. Then:

I1: the import (api/cli_import.py `import_files`): read, validate (fhir.resources), decide,
    seal, index, audit, one transaction per patient.
I0: the control: the same rows, already converted, inserted into bench/control.py's plain
    tables with the ORM, one transaction per patient: no validation, decision, sealing, index,
    audit or source key.
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from tortoise.transactions import in_transaction

from api.cli_import import import_files
from bench.control import PlainDiagnosis, PlainEncounter, PlainNote, PlainObservation, PlainPatient
from bench.harness import bench_database, command_line
from crypto.provider import LocalKeyProvider
from interchange import bundles, inbound
from models import Organization
from models.keystore import load_keyring

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
V2 = "http://terminology.hl7.org/CodeSystem/v2-0203"
NOTE = "Follow-up visit. Patient reports feeling well; continue current plan."
_PLAIN = {
    "Patient": PlainPatient,
    "Encounter": PlainEncounter,
    "Diagnosis": PlainDiagnosis,
    "Observation": PlainObservation,
    "ClinicalNote": PlainNote,
}


def _ref(resource: dict[str, Any]) -> dict[str, str]:
    return {"reference": f"urn:uuid:{resource['id']}"}


def _quantity(code: str, value: float, unit: str) -> dict[str, Any]:
    return {
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org"},
    }


def synthetic_patient(n: int) -> list[dict[str, Any]]:
    """Patient `n`'s resources, shaped as Synthea writes them (values made up, unique per n)."""
    ids = [str(uuid.UUID(int=n * 100 + i)) for i in range(14)]
    patient = {
        "resourceType": "Patient",
        "id": ids[0],
        "identifier": [
            {"system": "https://github.com/synthetichealth/synthea", "value": ids[0]},
            {
                "type": {"coding": [{"system": V2, "code": "MR"}]},
                "system": "http://hospital.smarthealthit.org",
                "value": f"SYN-{n:07d}",
            },
            {
                "type": {"coding": [{"system": V2, "code": "SS"}]},
                "system": "http://hl7.org/fhir/sid/us-ssn",
                "value": f"999-{10 + n // 10000 % 90:02d}-{1000 + n % 9000:04d}",
            },
        ],
        "name": [{"use": "official", "family": f"Family{n}", "given": [f"Given{n}"]}],
        "telecom": [{"system": "phone", "value": "555-302-9318", "use": "home"}],
        "gender": "female" if n % 2 else "male",
        "birthDate": f"{1940 + n % 60}-0{1 + n % 9}-1{n % 10}",
        "address": [
            {
                "line": [f"{n} Synthea Way"],
                "city": "Springfield",
                "state": "Massachusetts",
                "postalCode": "01101",
                "country": "US",
            }
        ],
    }
    subject = _ref(patient)
    encounters = [
        {
            "resourceType": "Encounter",
            "id": ids[1 + i],
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": subject,
            "period": {
                "start": f"201{i}-06-27T08:52:07-04:00",
                "end": f"201{i}-06-27T09:30:00-04:00",
            },
        }
        for i in range(2)
    ]
    conditions = [
        {
            "resourceType": "Condition",
            "id": ids[3 + i],
            "clinicalStatus": {"coding": [{"code": "active"}]},
            "code": {"coding": [{"system": SNOMED, "code": code, "display": text}], "text": text},
            "subject": subject,
            "encounter": _ref(encounters[i]),
            "onsetDateTime": f"201{i}-06-27T08:52:07-04:00",
            "recordedDate": f"201{i}-06-27T08:52:07-04:00",
        }
        for i, (code, text) in enumerate(
            [("44054006", "Diabetes mellitus type 2"), ("38341003", "Hypertension")]
        )
    ]
    values = [
        ("8302-2", 160.0 + n % 30, "cm"),
        ("29463-7", 60.5 + n % 40, "kg"),
        ("4548-4", 6.1, "%"),
    ]
    observations = [
        {
            "resourceType": "Observation",
            "id": ids[5 + i],
            "status": "final",
            **_quantity(code, value, unit),
            "subject": subject,
            "encounter": _ref(encounters[1]),
            "effectiveDateTime": "2011-06-27T08:52:07-04:00",
        }
        for i, (code, value, unit) in enumerate(values)
    ]
    observations.append(
        {
            "resourceType": "Observation",
            "id": ids[8],
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
            "component": [_quantity("8480-6", 128, "mm[Hg]"), _quantity("8462-4", 82, "mm[Hg]")],
            "subject": subject,
            "encounter": _ref(encounters[1]),
            "effectiveDateTime": "2011-06-27T08:52:07-04:00",
        }
    )
    note = {
        "resourceType": "DocumentReference",
        "id": ids[9],
        "status": "current",
        "subject": subject,
        "date": "2011-06-27T08:52:07-04:00",
        "content": [
            {
                "attachment": {
                    "contentType": "text/plain; charset=utf-8",
                    "data": base64.b64encode(f"{NOTE} ({n})".encode()).decode(),
                }
            }
        ],
        "context": {"encounter": [_ref(encounters[1])]},
    }
    billing = [
        {"resourceType": kind, "id": ids[10 + i], "status": "active", "patient": subject}
        for i, kind in enumerate(("Claim", "ExplanationOfBenefit"))
    ]
    return [patient, *encounters, *conditions, *observations, note, *billing]


def bundle(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """A transaction Bundle of the resources, with `urn:uuid:` fullUrls."""
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"urn:uuid:{r['id']}",
                "resource": r,
                "request": {"method": "POST", "url": r["resourceType"]},
            }
            for r in resources
        ],
    }


def write_bundles(folder: Path, patients: int, first: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(first, first + patients):
        (folder / f"patient-{n:07d}.json").write_text(json.dumps(bundle(synthetic_patient(n))))
    return folder


async def _control(folder: Path, organization: int) -> tuple[int, float]:
    """The same rows, converted before the clock starts, inserted plainly."""
    converted = []
    for path in bundles.files([folder]):
        entries, _ = bundles.read(path)
        rows = []
        for entry in entries:
            try:
                rows += inbound.records(entry, bundles.source_key(entry) or "", None)
            except inbound.NotModelled:
                continue
        converted.append(rows)
    started, written = time.perf_counter(), 0
    for n, rows in enumerate(converted):
        async with in_transaction() as connection:
            patient_pk = 0
            for record in rows:
                values: dict[str, Any] = {c: value for c, (_, value) in record.values.items()}
                model = _PLAIN[record.kind]
                if record.kind == "Patient":
                    values = {
                        "public_id": f"pat_{n}", "email": "", "organization_id": organization,
                        **values,
                    }  # fmt: skip
                else:
                    values = {"public_id": record.key[:40], "patient_id": patient_pk, **values}
                row = await model.create(using_db=connection, **values)
                if isinstance(row, PlainPatient):
                    patient_pk = row.id
                written += 1
    return written, time.perf_counter() - started


async def main(args: argparse.Namespace) -> None:
    folder = write_bundles(Path(tempfile.mkdtemp(prefix="phigate-fhir-")), args.patients)
    async with bench_database(args.database_url) as url:
        keyring = await load_keyring(LocalKeyProvider(secrets.token_bytes(32)))
        organization = await Organization.create(name="Bench Hospital")
        started = time.perf_counter()
        report = await import_files(keyring, [folder], organization.id)
        elapsed = time.perf_counter() - started
        created = sum(report.created.values())
        assert not report.problems, report.problems[:3]
        plain, plain_elapsed = await _control(folder, organization.id)
        backend = "postgres" if url.startswith("postgres") else "sqlite"
        print(
            f"{args.patients} patients, {report.resources} resources, {created} records, {backend}"
        )
        rate = report.resources / elapsed
        print(
            f"I1 import   {created / elapsed:8.0f} records/s  "
            f"({rate:.0f} resources/s, {elapsed:.1f} s)"
        )
        print(f"I0 control  {plain / plain_elapsed:8.0f} records/s  ({plain_elapsed:.1f} s)")
        print(
            f"import / control time per record: {elapsed / created / (plain_elapsed / plain):.2f}x"
        )


if __name__ == "__main__":
    command_line(__doc__, main, rounds=1)
