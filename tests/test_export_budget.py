"""Export budget: a principal reading more distinct patients per hour than its role allows
gets no data (EXPORT_BUDGET_EXCEEDED) and an alert is written to the audit trail, once."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

import httpx
import pytest

from api.settings import ConfigError, Settings
from models import AuditEvent, ExportWindow
from permissions.policy import EXPORT_BUDGET
from permissions.roles import Role
from permissions.safeguards import Safeguards
from tests.helpers import gql
from tests.world import CHILD, OTHER, OWN, World

READ = "query($id: ID!) { patient(id: $id) { givenName ssn } }"
CLINICAL_ONLY = "{ patients(first: 10) { edges { node { diagnoses { code } notes { text } } } } }"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    budget = MappingProxyType({**EXPORT_BUDGET, Role.FRONT_DESK: 2})
    return replace(settings, safeguards=Safeguards(export_budget=budget))


def codes(body: dict) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


async def read(client: httpx.AsyncClient, world: World, patient: str) -> httpx.Response:
    return await gql(client, READ, {"id": world.patients[patient]}, as_user="desk")


async def test_reading_past_the_budget_is_refused_and_alerted(
    client: httpx.AsyncClient, world: World
) -> None:
    # Clinical fields are denied to the front desk: nothing identified, nothing counted.
    assert codes((await gql(client, CLINICAL_ONLY, as_user="desk")).json())[0] == "FORBIDDEN"
    for patient, values in (("own", OWN), ("other", OTHER), ("own", OWN)):
        body = (await read(client, world, patient)).json()
        assert body["data"]["patient"]["givenName"] == values["given_name"]

    refused = await read(client, world, "child")
    body = refused.json()
    assert body["data"] is None
    assert codes(body) == ["EXPORT_BUDGET_EXCEEDED"]
    assert CHILD["given_name"] not in refused.text
    # The attempt is on record, and the alert names the actor.
    request_id = refused.headers["x-request-id"]
    assert await AuditEvent.filter(request_id=request_id, event="PHI_ACCESS").count() == 2
    alert = await AuditEvent.get(event="EXPORT_BUDGET_EXCEEDED")
    assert (alert.request_id, alert.role, alert.purpose) == (request_id, "front_desk", "SECURITY")

    # Throttled for the rest of the hour, even for a patient read before; one alert is enough.
    again = (await read(client, world, "own")).json()
    assert (again["data"], codes(again)) == (None, ["EXPORT_BUDGET_EXCEEDED"])
    assert await AuditEvent.filter(event="EXPORT_BUDGET_EXCEEDED").count() == 1

    # Other actors have their own budget.
    other = (await gql(client, READ, {"id": world.patients["own"]}, as_user="doc")).json()
    assert other["data"]["patient"]["givenName"] == OWN["given_name"]


async def test_a_page_counts_every_patient_on_it(client: httpx.AsyncClient, world: World) -> None:
    page = await gql(
        client, "{ patients(first: 3) { edges { node { givenName } } } }", as_user="desk"
    )
    assert codes(page.json()) == ["EXPORT_BUDGET_EXCEEDED"]
    assert page.json()["data"] is None
    assert await ExportWindow.filter(patient__in=list(world.patients.values())).count() == 3


def test_the_budget_is_configurable_per_role() -> None:
    env = {"PHIGATE_EXPORT_BUDGET": "physician=3; billing=0"}
    budget = Settings.from_env(env).safeguards.export_budget
    assert (budget[Role.PHYSICIAN], budget[Role.BILLING], budget[Role.NURSE]) == (3, 0, 500)
    for wrong in ("surgeon=3", "physician=many", "physician=-1"):
        with pytest.raises(ConfigError, match="PHIGATE_EXPORT_BUDGET"):
            Settings.from_env({"PHIGATE_EXPORT_BUDGET": wrong})
