"""DEIDENTIFY: in report mode every @phi field passes through its Safe Harbor transform."""

from __future__ import annotations

import httpx

from tests.helpers import audited_fields, gql
from tests.world import CLINICAL, World

QUERY = """
query($id: ID!) {
  patient(id: $id) {
    givenName familyName ssn mrn birthDate phone email street city zip
    diagnoses { code recordedDate }
    observations { value }
    notes { text }
  }
}
"""


async def test_report_mode_deidentifies_by_category(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await gql(
        client, QUERY, {"id": world.patients["own"]}, as_user="desk", mode="report"
    )
    body = response.json()
    assert "errors" not in body
    assert body["data"]["patient"] == {
        "givenName": None,
        "familyName": None,
        "ssn": None,
        "mrn": None,
        "birthDate": "1980",
        "phone": None,
        "email": None,
        "street": None,
        "city": None,
        "zip": "627",
        "diagnoses": [{"code": CLINICAL["diagnosis"]["code"], "recordedDate": "2024"}],
        "observations": [{"value": CLINICAL["observation"]["value"]}],
        "notes": [{"text": None}],
    }
    records = await audited_fields(response.headers["x-request-id"])
    assert {decision for *_, decision in records} == {"DEIDENTIFY"}
    assert len(records) == 14
