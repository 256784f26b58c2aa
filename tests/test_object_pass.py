"""The guard's object pass (schema/object_pass.py) completes PHI fields outside graphql-core's
per-field machinery: the response must still follow the query exactly (field order, aliases,
fragments, `@skip`/`@include`), and the audit must name exactly the fields returned."""

from __future__ import annotations

import inspect
import logging

import httpx
import pytest
import strawberry
from graphql.execution.executor import Executor
from strawberry.schema.config import StrawberryConfig

from api.auth.sessions import user_principal
from crypto.keyring import Keyring
from models import User
from schema.build import build_schema
from schema.context import RequestContext
from schema.execution import GuardedExecutionContext
from schema.query import Query
from schema.scalars import SCALARS
from tests.helpers import audited_fields, gql
from tests.world import CLINICAL, OWN, World

MIXED = """
query($id: ID!) {
  patient(id: $id) {
    ssn
    id
    first: givenName
    encounters { startDate id kind when: startDate }
    givenName
    notes { text id }
    birthDate
  }
}
"""

FRAGMENTS = """
query($id: ID!, $withSsn: Boolean!, $skipCity: Boolean!) {
  node(id: $id) {
    id
    ... on Patient { mrn ssn @include(if: $withSsn) ...place }
  }
}
fragment place on Patient { mrn city @skip(if: $skipCity) zip }
"""


async def test_fields_come_back_in_the_order_asked_under_their_aliases(
    client: httpx.AsyncClient, world: World
) -> None:
    patient_id = world.patients["own"]
    response = await gql(client, MIXED, {"id": patient_id}, as_user="nurse")
    body = response.json()
    patient = body["data"]["patient"]
    assert list(patient) == [
        "ssn", "id", "first", "encounters", "givenName", "notes", "birthDate",
    ]  # fmt: skip
    assert patient["ssn"] == "***-**-3456"
    assert patient["first"] == patient["givenName"] == OWN["given_name"]
    assert patient["birthDate"] == OWN["birth_date"][:4]
    [encounter] = patient["encounters"]
    assert list(encounter) == ["startDate", "id", "kind", "when"]
    assert encounter["startDate"] == encounter["when"] == CLINICAL["encounter"]["start_date"]
    assert [list(note) for note in patient["notes"]] == [["text", "id"]]
    assert "errors" not in body

    records = await audited_fields(response.headers["x-request-id"])
    assert sorted((field, path, decision) for _, field, path, decision in records) == sorted(
        [
            ("Patient.ssn", "patient.ssn", "MASK"),
            ("Patient.givenName", "patient.first", "ALLOW"),
            ("Patient.givenName", "patient.givenName", "ALLOW"),
            ("Patient.birthDate", "patient.birthDate", "MASK"),
            ("Encounter.startDate", "patient.encounters.0.startDate", "ALLOW"),
            ("Encounter.kind", "patient.encounters.0.kind", "ALLOW"),
            ("Encounter.startDate", "patient.encounters.0.when", "ALLOW"),
            ("ClinicalNote.text", "patient.notes.0.text", "ALLOW"),
        ]
    )


@pytest.mark.parametrize(("with_ssn", "skip_city"), [(False, True), (True, False)])
async def test_fragments_and_conditions_decide_what_is_read_and_recorded(
    client: httpx.AsyncClient, world: World, with_ssn: bool, skip_city: bool
) -> None:
    patient_id = world.patients["own"]
    variables = {"id": patient_id, "withSsn": with_ssn, "skipCity": skip_city}
    response = await gql(client, FRAGMENTS, variables, as_user="doc")
    node = response.json()["data"]["node"]
    expected = {"id": patient_id, "mrn": OWN["mrn"]}
    if with_ssn:
        expected["ssn"] = OWN["ssn"]
    if not skip_city:
        expected["city"] = OWN["city"]
    expected["zip"] = OWN["zip"]
    assert node == expected
    assert list(node) == list(expected)

    records = await audited_fields(response.headers["x-request-id"])
    # `mrn`, asked twice (directly and through the fragment), is one field of the response.
    assert sorted(field for _, field, _, _ in records) == sorted(
        f"Patient.{name}" for name in expected if name != "id"
    )


async def test_a_phi_field_resolved_outside_the_object_pass_fails_closed(
    keyring: Keyring, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """The object pass is the one enforcement path: a schema of the same types executed
    without phigate's execution context gets no PHI value, an error at each PHI field and a
    log line, whoever asks (here the physician, who may read everything)."""
    served = build_schema()
    bare = strawberry.Schema(query=Query, config=StrawberryConfig(scalar_map=SCALARS))
    user = await User.get(username="doc")
    context = RequestContext.create(user_principal(user, "tripwire"), keyring, served.plans)
    query = "query($id: ID!) { patient(id: $id) { id mrn ssn } }"
    with caplog.at_level(logging.ERROR, logger="phigate.guard"):
        result = await bare.execute(query, {"id": world.patients["own"]}, context)
    assert result.data == {"patient": {"id": world.patients["own"], "mrn": None, "ssn": None}}
    assert sorted(tuple(e.path or ()) for e in result.errors or []) == [
        ("patient", "mrn"),
        ("patient", "ssn"),
    ]
    assert {(e.extensions or {}).get("code") for e in result.errors or []} == {"PHI_UNAVAILABLE"}
    assert "Patient.mrn resolved outside the object pass" in caplog.text
    assert OWN["mrn"] not in caplog.text


def test_the_execution_hook_matches_graphql_core() -> None:
    """The object pass hangs on one method of graphql-core's execution context: a release that
    changes its signature must fail here, not on every object of every response."""
    ours = inspect.signature(GuardedExecutionContext.execute_fields)
    theirs = inspect.signature(Executor.execute_fields)
    assert list(ours.parameters) == list(theirs.parameters)
    # Production's context is the guarded one, built with suggestions hidden.
    assert issubclass(build_schema().execution_context_class, GuardedExecutionContext)
    assert "hide_suggestions" in inspect.signature(Executor.build).parameters
