"""`phigate import`: real FHIR R4 bundles as published, through the real command and database,
real crypto, and the records read back through GraphQL. Each test runs on SQLite and
PostgreSQL."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.cli_import import import_files
from bench.fhir_import import bundle, synthetic_patient
from crypto.keyring import Keyring
from interchange.importer import Report
from models import (
    AuditEvent,
    CareTeamAssignment,
    ClinicalNote,
    Diagnosis,
    Encounter,
    FhirSource,
    Observation,
    Organization,
    Patient,
    User,
)
from ops.progress import Progress
from tests.helpers import gql
from tests.test_at_rest import _plaintexts, _raw_dump
from tests.test_cli import phigate
from tests.world import World

ROOT = Path(__file__).resolve().parent.parent
# The public bundles of ../shared/cases/fhir, copied byte for byte (SOURCES.md says where from),
# so that a clone anywhere runs them.
CASES = ROOT / "tests" / "cases" / "fhir"
CARROLL = next(CASES.glob("*Carroll471_O'Hara248*.json"))
ANTHEM = CASES / "anthem-ai__fhir-helpers__synthea_condition_date.json"
IPS_MINIMAL = CASES / "HL7__fhir-ips__bundle-minimal.json"
IPS_NO_INFO = CASES / "HL7__fhir-ips__bundle-no-info-required-sections.json"
NIMBUS = next(CASES.glob("NimbusInformatics__*Jamal145*.json"))
NHI = "https://standards.digital.health.nz/ns/nhi-id"
MODELS = (Patient, Encounter, Diagnosis, Observation, ClinicalNote, FhirSource)


@pytest.fixture
def env(database_url: str, master_key: str, tmp_path: Path) -> dict[str, str]:
    return {
        "PHIGATE_DATABASE_URL": database_url,
        "PHIGATE_MASTER_KEY": master_key,
        "PHIGATE_DATA_DIR": str(tmp_path),
    }


async def _counts() -> dict[str, int]:
    return {model.__name__: await model.all().count() for model in MODELS}


def _line(out: str, start: str) -> str:
    [found] = [line for line in out.splitlines() if line.startswith(start)]
    return found


async def test_real_bundles_import_as_they_are(
    app: Starlette, client: httpx.AsyncClient, world: World, env: dict[str, str]
) -> None:
    first = phigate("import", str(CASES), env=env)
    assert first.returncode == 1, first.stderr  # some entries were not imported, and say so
    out = first.stdout
    assert _line(out, "files:") == (
        "files: 5, resources: 230, patients written: 1, patients not imported: 4"
    )
    # Carroll471 (Synthea): every Encounter, Condition (SNOMED) and Observation, the blood
    # pressure panels' two components each.
    assert _line(out, "created:") == "created: Diagnosis 5, Encounter 14, Observation 97, Patient 1"
    not_modelled = _line(out, "not modelled")
    for counted in ("Claim 16", "ExplanationOfBenefit 14", "Immunization 13", "Procedure 8"):
        assert counted in not_modelled
    assert "DiagnosticReport (no attached text) 5" in not_modelled
    problems = [line for line in out.splitlines() if line.startswith("problem:")]
    # The anthem-ai fixture's Condition names an encounter that is not in the bundle.
    assert f"problem: {ANTHEM}: entry 1: encounter: references no encounter of this patient" in (
        problems
    )
    # HL7 IPS: no MR identifier; the de-identified Nimbus file: no identifier value, no name.
    for path in (IPS_MINIMAL, IPS_NO_INFO, NIMBUS):
        assert f"problem: {path}: entry " in "\n".join(problems)
    assert any("Patient.identifier: no medical record number" in p for p in problems)
    for value in ("999-84-6370", "1954-06-13", "555-889-9870", "999-73-3727", "Tawny381"):
        assert value not in out
        assert value not in first.stderr
    assert "importing [##############################] 230/230" in first.stderr
    counts = await _counts()
    assert counts["Patient"] == 3 + 1  # the world's three, and Carroll471

    again = phigate("import", str(CASES), env=env)
    assert _line(again.stdout, "created:") == "created: none"
    assert _line(again.stdout, "already imported:") == (
        "already imported: Diagnosis 5, Encounter 14, Observation 97, Patient 1"
    )
    assert await _counts() == counts

    # The IPS patient, its national health index named as the record number.
    nz = phigate("import", "--mrn-system", NHI, str(IPS_NO_INFO), env=env)
    assert nz.returncode == 0, nz.stdout
    assert _line(nz.stdout, "created:") == "created: Patient 1"
    assert "Patient.address (not a US address) 1" in _line(nz.stdout, "elements left out:")
    body = (await gql(client, _BY_MRN, {"m": "AAA1234"}, as_user="desk")).json()
    [node] = [edge["node"] for edge in body["data"]["patients"]["edges"]]
    assert node == {
        "givenName": "James", "familyName": "Judge", "birthDate": "1985-04-25", "gender": "male",
        "ssn": None, "phone": "+6478532279", "city": None, "zip": None,
    }  # fmt: skip


_BY_MRN = """
query($m: String) { patients(mrn: $m) { edges { node {
  givenName familyName birthDate gender ssn phone city zip } } } }
"""
_CLINICAL = """
query($id: ID!) { patient(id: $id) {
  encounters { kind startDate }
  diagnoses { code description recordedDate }
  observations { code value unit effectiveDate }
  notes { text authoredDate }
} }
"""


def _write(folder: Path, name: str, document: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


async def _import(keyring: Keyring, *paths: Path, **options: Any) -> Report:
    organization = await Organization.get(name="Test Hospital")
    return await import_files(
        keyring, list(paths), organization.id, stream=io.StringIO(), **options
    )


async def test_an_imported_patient_reads_back_through_graphql(
    app: Starlette, client: httpx.AsyncClient, keyring: Keyring, world: World, tmp_path: Path
) -> None:
    path = _write(tmp_path, "p7.json", bundle(synthetic_patient(7)))
    report = await _import(keyring, path)
    assert report.problems == []
    assert dict(report.created) == {
        "Patient": 1, "Encounter": 2, "Diagnosis": 2, "Observation": 5, "ClinicalNote": 1,
    }  # fmt: skip
    assert dict(report.not_modelled) == {"Claim": 1, "ExplanationOfBenefit": 1}
    assert dict(report.left_out) == {}
    body = (await gql(client, _BY_MRN, {"m": "SYN-0000007"}, as_user="desk")).json()
    [edge] = body["data"]["patients"]["edges"]
    assert edge["node"] == {
        "givenName": "Given7", "familyName": "Family7", "birthDate": "1947-08-17",
        "gender": "female", "ssn": "***-**-1007", "phone": "555-302-9318", "city": "Springfield",
        "zip": "01101",
    }  # fmt: skip
    patient = await Patient.all().order_by("-id").first()
    assert patient is not None
    doc = await User.get(username="doc")
    await CareTeamAssignment.create(user=doc, patient=patient, patient_public_id=patient.public_id)
    body = (await gql(client, _CLINICAL, {"id": patient.public_id}, as_user="doc")).json()
    record = body["data"]["patient"]
    assert record["encounters"] == [
        {"kind": "OUTPATIENT", "startDate": "2010-06-27"},
        {"kind": "OUTPATIENT", "startDate": "2011-06-27"},
    ]
    assert record["diagnoses"] == [
        {"code": "SNOMED:44054006", "description": "Diabetes mellitus type 2",
         "recordedDate": "2010-06-27"},
        {"code": "SNOMED:38341003", "description": "Hypertension", "recordedDate": "2011-06-27"},
    ]  # fmt: skip
    assert {(o["code"], o["value"], o["unit"]) for o in record["observations"]} == {
        ("8302-2", "167.0", "cm"), ("29463-7", "67.5", "kg"), ("4548-4", "6.1", "%"),
        ("8480-6", "128", "mm[Hg]"), ("8462-4", "82", "mm[Hg]"),
    }  # fmt: skip
    assert record["notes"] == [
        {
            "text": "Follow-up visit. Patient reports feeling well; continue current plan. (7)",
            "authoredDate": "2011-06-27",
        }
    ]
    # The diagnosis is linked to the encounter its Condition named.
    diagnosis = await Diagnosis.filter(patient_id=patient.id).order_by("id").first()
    encounter = await Encounter.filter(patient_id=patient.id).order_by("id").first()
    assert diagnosis is not None
    assert encounter is not None
    assert diagnosis.encounter_id == encounter.id  # type: ignore[attr-defined]


def _bulk(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """As Bulk Data writes them: relative references (`Patient/id`), not a bundle's urn:uuid."""
    text = json.dumps(resources)
    for r in resources:
        text = text.replace(f"urn:uuid:{r['id']}", f"{r['resourceType']}/{r['id']}")
    relative: list[dict[str, Any]] = json.loads(text)
    return relative


def _ndjson(resources: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in resources)


async def test_reimport_creates_nothing_and_later_files_add_to_a_patient(
    app: Starlette, keyring: Keyring, world: World, tmp_path: Path
) -> None:
    resources = _bulk(synthetic_patient(11))
    observations = [r for r in resources if r["resourceType"] == "Observation"]
    early = [r for r in resources if r not in observations]
    _write(tmp_path / "bulk", "Patient.ndjson", _ndjson(early))
    first = await _import(keyring, tmp_path / "bulk")
    assert first.problems == []
    assert first.created["Patient"] == 1
    counts = await _counts()
    again = await _import(keyring, tmp_path / "bulk")
    assert sum(again.created.values()) == 0
    assert again.unchanged == first.created
    assert await _counts() == counts
    # A later export's observations for the same patient go to that patient, and only once.
    _write(tmp_path / "later", "Observation.ndjson", _ndjson(observations))
    later = await _import(keyring, tmp_path / "later")
    assert later.problems == []
    assert dict(later.created) == {"Observation": 5}
    assert await Observation.all().count() == counts["Observation"] + 5
    patient = await Patient.all().order_by("-id").first()
    assert patient is not None
    assert await Observation.filter(patient_id=patient.id).count() == 5
    assert sum((await _import(keyring, tmp_path / "later")).created.values()) == 0


async def test_malformed_input_is_reported_and_leaves_no_partial_patient(
    app: Starlette, keyring: Keyring, world: World, tmp_path: Path
) -> None:
    def patient_bundle(n: int) -> dict[str, Any]:
        return bundle(synthetic_patient(n))

    dangling_subject = patient_bundle(21)
    dangling_subject["entry"][5]["resource"]["subject"] = {"reference": "urn:uuid:nobody"}
    dangling_encounter = patient_bundle(22)
    dangling_encounter["entry"][3]["resource"]["encounter"] = {"reference": "Encounter/none"}
    not_a_date = patient_bundle(23)
    not_a_date["entry"][6]["resource"]["effectiveDateTime"] = "2011-02-30T10:00:00Z"
    too_early = patient_bundle(27)
    too_early["entry"][6]["resource"]["effectiveDateTime"] = "1850-06-27T08:52:07Z"
    not_a_fhir_date = patient_bundle(24)
    not_a_fhir_date["entry"][0]["resource"]["birthDate"] = "12/01/1980"
    bad_code = patient_bundle(25)
    bad_code["entry"][7]["resource"]["code"]["coding"][0]["code"] = "4548-5"
    folder = tmp_path / "in"
    files = {
        "bad.json": '{"resourceType": "Bundle", "entry": [',
        "patient.json": synthetic_patient(20)[0],
        "searchset.json": {**patient_bundle(20), "type": "searchset"},
        "subject.json": dangling_subject,
        "encounter.json": dangling_encounter,
        "date.json": not_a_date,
        "early.json": too_early,
        "fhirdate.json": not_a_fhir_date,
        "code.json": bad_code,
        "good.json": patient_bundle(26),
    }
    for name, document in files.items():
        _write(folder, name, document)
    before = await _counts()
    report = await _import(keyring, folder)
    reasons = sorted(str(p).removeprefix(f"{folder}/") for p in report.problems)
    assert reasons == [
        "bad.json: file: not JSON (line 1, column 38)",
        "code.json: entry 7: Observation.code.coding.code: must be a LOINC code "
        "(NNNNN-N, with its check digit)",
        "date.json: entry 6: Observation.effectiveDateTime: not valid FHIR R4 (Input should be "
        "a valid datetime or date, day value is outside expected range)",
        "early.json: entry 6: Observation.effective[x]: must not be before 1900-01-01",
        "encounter.json: entry 3: encounter: references no encounter of this patient",
        "fhirdate.json: entry 0: Patient.birthDate: not valid FHIR R4 (Value error, Date value "
        "string does not match spec regex.)",
        "patient.json: file: resourceType is 'Patient', not a Bundle",
        "searchset.json: file: Bundle.type must be one of batch, collection, document, transaction",
        "subject.json: entry 5: Observation.subject: references no patient of this import",
    ]
    # encounter, date, early, fhirdate, code: the whole patient each
    assert report.failed_patients == 5
    # Only the good patient was written, and subject.json's patient without that observation.
    after = await _counts()
    assert after["Patient"] == before["Patient"] + 2
    assert after["Observation"] == before["Observation"] + 5 + 4
    for value in ("12/01/1980", "2011-02-30", "1850-06-27", "4548-5", "Given25", "999-"):
        assert all(value not in line for line in report.lines())


async def test_a_clashing_mrn_leaves_nothing_of_that_patient(
    app: Starlette, keyring: Keyring, world: World, tmp_path: Path
) -> None:
    await _import(keyring, _write(tmp_path, "a.json", bundle(synthetic_patient(30))))
    before = await _counts()
    clash = synthetic_patient(31)
    clash[0]["identifier"][1]["value"] = "SYN-0000030"
    path = _write(tmp_path, "b.json", bundle(clash))
    report = await _import(keyring, path)
    assert [str(p) for p in report.problems] == [
        f"{path}: entry 0: Patient.identifier[MR]: already in use in this organization"
    ]
    assert sum(report.created.values()) == 0
    assert report.failed_patients == 1
    # The patient's encounters, diagnoses... were not left behind without it.
    assert await _counts() == before


async def test_imported_values_are_not_stored_in_plaintext(
    app: Starlette, keyring: Keyring, world: World, tmp_path: Path, database_url: str
) -> None:
    report = await _import(
        keyring, CARROLL, _write(tmp_path, "note.json", bundle(synthetic_patient(40)))
    )
    assert report.created["Patient"] == 2
    assert report.created["ClinicalNote"] == 1
    dump = await _raw_dump(database_url)
    for value in (
        "Carroll471", "O'Hara248", "999-84-6370", "274f5452-2a39-44c4-a7cb-f36de467762e",
        "Shirley", "Given40", "SYN-0000040", "Patient reports feeling well",
    ):  # fmt: skip
        assert value not in dump
    plaintexts = await _plaintexts(keyring)
    assert "Carroll471" in plaintexts
    assert sorted(v for v in plaintexts if len(v) >= 5 and v in dump) == []


async def test_one_audit_record_per_run_and_one_per_record_written(
    app: Starlette, keyring: Keyring, world: World, tmp_path: Path
) -> None:
    report = await _import(keyring, _write(tmp_path, "p.json", bundle(synthetic_patient(50))))
    [run] = await AuditEvent.filter(event="RECORDS_IMPORTED")
    assert run.detail == report.summary()
    assert "created=11" in (run.detail or "")
    assert "patients=1" in (run.detail or "")
    assert run.actor.startswith("cli:")
    assert run.purpose == "OPERATIONS"
    writes = await AuditEvent.filter(request_id=run.request_id, event="CREATE").order_by("id")
    assert len(writes) == 11
    patient = await Patient.all().order_by("-id").first()
    assert patient is not None
    assert {w.patient for w in writes} == {patient.public_id}
    assert {w.actor for w in writes} == {run.actor}
    assert {(w.role, w.decision) for w in writes} == {
        ("front_desk", "ALLOW"), ("physician", "ALLOW"), ("nurse", "ALLOW"),
    }  # fmt: skip
    assert writes[0].accessed()[:2] == [
        ("Patient.mrn", "import.Patient.mrn"), ("Patient.ssn", "import.Patient.ssn"),
    ]  # fmt: skip


async def test_dry_run_validates_and_writes_nothing(
    app: Starlette, keyring: Keyring, world: World, tmp_path: Path
) -> None:
    broken = bundle(synthetic_patient(61))
    broken["entry"][0]["resource"]["birthDate"] = "1980-02-30"
    _write(tmp_path / "in", "good.json", bundle(synthetic_patient(60)))
    _write(tmp_path / "in", "broken.json", broken)
    before = await _counts()
    audit_before = await AuditEvent.all().count()
    report = await _import(keyring, tmp_path / "in", dry_run=True)
    assert report.created["Patient"] == 1
    assert sum(report.created.values()) == 11
    assert [p.reason for p in report.problems] == [
        "Patient.birthDate: not valid FHIR R4 (Input should be a valid date or datetime, day "
        "value is outside expected range)"
    ]
    assert report.lines()[1].startswith("would create: ")
    assert await _counts() == before
    # Nothing but the run's own record.
    [run] = await AuditEvent.filter(id__gt=0).order_by("-id").limit(1)
    assert run.event == "RECORDS_IMPORTED"
    assert (run.detail or "").startswith("dry run; ")
    assert await AuditEvent.all().count() == audit_before + 1


def test_progress_shows_rate_and_time_left() -> None:
    now = [100.0]
    stream = io.StringIO()
    bar = Progress("importing", 1000, stream, unit="resources", clock=lambda: now[0])
    bar.advance(100)  # within the first second: no rate yet
    now[0] += 2.0
    bar.advance(100)
    bar.close()
    assert stream.getvalue().splitlines() == [
        "importing [###---------------------------] 100/1000",
        "importing [######------------------------] 200/1000  100 resources/s, ETA 0:08",
    ]
    assert bar.rate() == "100 resources/s, ETA 0:08"
