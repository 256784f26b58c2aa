"""Searching by a PHI field reveals its value, so it is decided as reading that field is.

For every kind of principal and every patient: a search by the patient's MRN finds the patient
exactly when the principal reads that patient's MRN in full, and otherwise answers exactly as a
search by an MRN nobody has (a proxy of scope CLINICAL once learned a child's MRN this way).
Reports and aggregates follow an OAuth2 token's scopes the same way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request

from api.app import create_app
from api.auth.sessions import user_principal
from api.oauth.bearer import acting_for
from api.settings import Settings
from crypto.keyring import Keyring
from models import BreakGlassGrant, Patient, ProxyGrant, User
from permissions.policy import DEFAULT_PURPOSE, RowScope
from permissions.principal import Principal
from permissions.roles import ProxyScope, Role
from tests.conftest import https_client, running
from tests.world import CHILD, OTHER, OWN, World, build_world

KIND = "x-test-principal"
MADE_UP = "MRN-999999"
MRNS = {"own": OWN["mrn"], "other": OTHER["mrn"], "child": CHILD["mrn"]}
IDENTIFIERS = frozenset({"patient.read", "phi.identifiers"})
DEMOGRAPHICS = frozenset({"patient.read", "phi.demographics"})

Build = Callable[[str], Awaitable[Principal]]


async def _user(username: str, request_id: str) -> Principal:
    return user_principal(await User.get(username=username), request_id)


def _signed_in(username: str) -> Build:
    return lambda request_id: _user(username, request_id)


def _app_for(username: str, scopes: frozenset[str]) -> Build:
    async def build(request_id: str) -> Principal:
        return acting_for(await User.get(username=username), "cli_app", scopes, request_id)

    return build


def _partner(scopes: frozenset[str]) -> Build:
    async def build(request_id: str) -> Principal:
        organization = (await User.get(username="desk")).organization_id  # type: ignore[attr-defined]
        return Principal(
            actor="cli_partner",
            role=Role.BILLING,
            purpose=DEFAULT_PURPOSE[Role.BILLING],
            request_id=request_id,
            client="cli_partner",
            scopes=scopes,
            row_scope=RowScope.ORGANIZATION,
            organization_pk=organization,
        )

    return build


PRINCIPALS: dict[str, Build] = {
    **{name: _signed_in(name) for name in ("doc", "nurse", "desk", "billing", "alice")},
    **{name: _signed_in(name) for name in ("rae", "auditor", "admin")},
    "demographics proxy": _signed_in("parent"),
    "clinical proxy": _signed_in("carer"),
    "break-glass physician": _signed_in("er_doc"),
    "app for doc, identifiers": _app_for("doc", IDENTIFIERS),
    "app for doc, demographics": _app_for("doc", DEMOGRAPHICS),
    "app for the clinical proxy, identifiers": _app_for("carer", IDENTIFIERS),
    "partner, identifiers": _partner(IDENTIFIERS),
    "partner, demographics": _partner(DEMOGRAPHICS),
}


class KindAuthenticator:
    """A principal of the kind named by a test header (how each kind authenticates is tested
    in test_auth.py and test_oauth.py; here only what each kind may search matters)."""

    async def __call__(self, request: Request) -> Principal | None:
        build = PRINCIPALS[request.headers[KIND]]
        principal = await build(request.state.request_id)
        return replace(principal, ip="127.0.0.1")


@pytest.fixture
async def http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    application: Starlette = create_app(settings, authenticate=KindAuthenticator())
    async with running(application), https_client(application) as client:
        keyring: Keyring = application.state.keyring
        await _more_of_the_world(keyring, await build_world(keyring))
        yield client


async def _more_of_the_world(keyring: Keyring, world: World) -> None:
    """A proxy whose grant (CLINICAL) holds no MRN, and a physician reaching 'other' by an
    open break-glass grant."""
    doc = await User.get(username="doc")
    organization = doc.organization_id  # type: ignore[attr-defined]
    carer = await User.create(
        username="carer", role=Role.PATIENT, organization_id=organization, password_hash="-"
    )
    er_doc = await User.create(
        username="er_doc", role=Role.PHYSICIAN, organization_id=organization, password_hash="-"
    )
    child = await Patient.get(public_id=world.patients["child"])
    other = await Patient.get(public_id=world.patients["other"])
    now = datetime.now(UTC)
    await ProxyGrant.create(
        patient=child, grantee=carer, scope=ProxyScope.CLINICAL, expires_at=now + timedelta(1)
    )
    grant = BreakGlassGrant(
        user=er_doc, patient=other, opened_at=now, expires_at=now + timedelta(hours=1)
    )
    grant.seal(keyring, reason="Unconscious in the emergency department")
    await grant.save()


async def _ask(http: httpx.AsyncClient, kind: str, query: str, **variables: Any) -> Any:
    response = await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers={KIND: kind}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    errors = body.get("errors", [])
    return body.get("data"), sorted(
        (e["extensions"]["code"], tuple(e.get("path") or ())) for e in errors
    )


SEARCH = "query($mrn: String!) { patients(mrn: $mrn) { totalCount edges { node { id } } } }"
READ_MRN = "query { patients(first: 100) { edges { node { id mrn } } } }"


@pytest.mark.parametrize("kind", PRINCIPALS)
async def test_a_search_finds_exactly_the_patients_whose_mrn_the_caller_reads(
    http: httpx.AsyncClient, kind: str
) -> None:
    data, _ = await _ask(http, kind, READ_MRN)
    read = {
        edge["node"]["id"]: edge["node"]["mrn"]
        for edge in ((data or {}).get("patients") or {"edges": []})["edges"]
    }
    nobody = await _ask(http, kind, SEARCH, mrn=MADE_UP)
    for mrn in MRNS.values():
        answer = await _ask(http, kind, SEARCH, mrn=mrn)
        readers = [patient for patient, shown in read.items() if shown == mrn]
        if readers:
            connection = answer[0]["patients"]
            assert connection["totalCount"] == 1, (kind, mrn)
            assert [e["node"]["id"] for e in connection["edges"]] == readers
        else:
            # Not read in full (masked, denied, or outside the rows): the same answer as an
            # MRN that does not exist, errors and all.
            assert answer == nobody, (kind, mrn)
    # Refused (FORBIDDEN) or empty: which one depends on who asks, never on the value.
    if nobody[1] != [("FORBIDDEN", ("patients",))]:
        assert nobody == ({"patients": {"totalCount": 0, "edges": []}}, [])


async def test_the_clinical_proxy_cannot_learn_the_childs_mrn(http: httpx.AsyncClient) -> None:
    child = await _ask(http, "clinical proxy", SEARCH, mrn=CHILD["mrn"])
    made_up = await _ask(http, "clinical proxy", SEARCH, mrn=MADE_UP)
    assert child == made_up
    assert child[0]["patients"]["totalCount"] == 0
    own_mrn = await _ask(http, "clinical proxy", "query { patients { edges { node { mrn } } } }")
    assert ("FORBIDDEN", ("patients", "edges", 0, "node", "mrn")) in own_mrn[1]


REPORT = """
query {
  report {
    patients { edges { node { birthDate diagnoses { code } } } }
  }
}
"""
AGGREGATE = "query($by: [ReportDimension!]!) { report { aggregate(by: $by) { total } } }"


async def test_reports_and_aggregates_follow_the_tokens_scopes(http: httpx.AsyncClient) -> None:
    """A report shows no category the caller could not read identified: an app acting for a
    physician with scopes that name no clinical category gets no diagnosis from a report,
    whether as a field or as an aggregate's dimension, while its demographic dimensions work."""
    kind = "app for doc, report"
    PRINCIPALS[kind] = _app_for("doc", DEMOGRAPHICS | {"reports.read"})
    try:
        data, errors = await _ask(http, kind, REPORT)
        [edge] = data["report"]["patients"]["edges"]
        assert edge["node"]["birthDate"] == OWN["birth_date"][:4]
        assert edge["node"]["diagnoses"] is None
        where = ("report", "patients", "edges", 0, "node", "diagnoses")
        assert ("FORBIDDEN", where) in errors
        refused = await _ask(http, kind, AGGREGATE, by=["DIAGNOSIS"])
        assert refused[1] == [("FORBIDDEN", ("report", "aggregate"))]
        allowed = await _ask(http, kind, AGGREGATE, by=["AGE_BAND"])
        assert allowed[1] == []
        # The physician signed in reads diagnoses, so their reports group by them.
        assert (await _ask(http, "doc", AGGREGATE, by=["DIAGNOSIS"]))[1] == []
    finally:
        del PRINCIPALS[kind]
