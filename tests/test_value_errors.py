"""A malformed value is refused with its place and expected type, never with the value: what a
client submits may be PHI (a phone number sent as a number, a name in an unknown field...), and
graphql-core's own messages quote it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.helpers import gql
from tests.world import World

SSN = "321-54-9876"
NAME = "Theodora"
PHONE = 3125550188
UPDATE = 'mutation($i: PatientChanges!) { updatePatient(id: "%s", version: 1, input: $i) { id } }'
REGISTER = "mutation($i: RegisterPatientInput!) { registerPatient(input: $i) { id } }"
SEARCH = "query($m: String) { patients(mrn: $m) { totalCount } }"

# (document, variables or None, what the message must still name)
CASES: list[tuple[str, dict[str, Any] | None, str]] = [
    (UPDATE, {"i": {"phone": PHONE}}, "at .phone"),
    (UPDATE, {"i": {"givenName": [NAME]}}, "at .givenName"),
    (UPDATE, {"i": {"givenName": {"first": NAME}}}, "at .givenName"),
    (UPDATE, {"i": {"ssn": SSN, "socialSecurity": SSN}}, "unknown field 'socialSecurity'"),
    (UPDATE, {"i": [SSN]}, "'PatientChanges'"),
    (REGISTER, {"i": {"givenName": NAME, "ssn": SSN}}, "required field 'mrn'"),
    (SEARCH, {"m": PHONE}, "Variable '$m'"),
    (SEARCH, {"m": {"mrn": SSN}}, "Variable '$m'"),
    ("query($b: [ReportDimension!]!) { report { aggregate(by: $b) { cells { count } } } }",
     {"b": [NAME]}, "'ReportDimension' enum"),
    ("query($n: Int!) { patients(first: $n) { totalCount } }", {"n": SSN}, "Int cannot"),
    ('mutation { updatePatient(id: "%s", version: 1, input: {phone: 3125550188}) { id } }',
     None, "String cannot represent"),
    ('mutation { updatePatient(id: "%s", version: 1, input: {ssn: "321-54-9876", social: 1})'
     " { id } }", None, "unknown field 'social'"),
    ("{ report { aggregate(by: [Theodora]) { cells { count } } } }", None, "'ReportDimension'"),
    ('{ patients(first: "321-54-9876") { totalCount } }', None, "Int cannot"),
]  # fmt: skip


@pytest.mark.parametrize(("document", "variables", "named"), CASES)
async def test_a_refused_value_is_named_by_its_place_not_quoted(
    client: httpx.AsyncClient,
    world: World,
    document: str,
    variables: dict[str, Any] | None,
    named: str,
) -> None:
    if "%s" in document:
        document = document % world.patients["own"]
    response = await gql(client, document, variables, as_user="desk")
    errors = response.json()["errors"]
    messages = " | ".join(error["message"] for error in errors)
    assert named in messages
    for value in (SSN, NAME, str(PHONE), "321549876"):
        assert value not in response.text
