"""The whole administration lifecycle from an empty database, through the CLI and HTTP with
real logins, real TOTP (oathtool) and real row access on both databases."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from starlette.applications import Starlette

from api.demo import SyntheticPatient, create_patient, synthetic_patient
from models import AuditEvent, Organization, User
from tests.helpers import ManualClock, secret_of, totp_code
from tests.test_cli import phigate
from tests.test_cli_clients import field

NEW_PASSWORD = "violet tractor sings at noon"


async def sign_in(
    http: httpx.AsyncClient, clock: ManualClock, oathtool: str, username: str, password: str
) -> dict[str, str]:
    """First login: the initial password is replaced, then TOTP is enrolled."""
    first = await http.post("/auth/login", json={"username": username, "password": password})
    assert first.json()["password_change"] == "required", first.text
    weak = await http.post(
        "/auth/password",
        json={"password_token": first.json()["password_token"], "current_password": password,
              "new_password": "password1234"},
    )  # fmt: skip
    assert weak.status_code == 400
    assert "password1234" not in weak.text
    step = await http.post(
        "/auth/password",
        json={"password_token": first.json()["password_token"], "current_password": password,
              "new_password": NEW_PASSWORD},
    )  # fmt: skip
    assert step.status_code == 200, step.text
    assert step.json()["mfa"] == "enrol"
    token = step.json()["mfa_token"]
    enrolment = (await http.post("/auth/mfa/enrol", json={"mfa_token": token})).json()
    code = totp_code(oathtool, secret_of(enrolment["otpauth_uri"]), clock.now())
    done = await http.post("/auth/mfa", json={"mfa_token": token, "code": code})
    assert done.status_code == 200, done.text
    return {"authorization": f"Bearer {done.json()['token']}"}


async def gql(http: httpx.AsyncClient, auth: dict[str, str], query: str, **variables: Any) -> Any:
    response = await http.post("/graphql", json={"query": query, "variables": variables},
                               headers=auth)  # fmt: skip
    return response.json()


async def test_lifecycle_from_an_empty_database(
    session_app: Starlette,
    session_client: httpx.AsyncClient,
    clock: ManualClock,
    oathtool: str,
    database_url: str,
    master_key: str,
    tmp_path: Any,
) -> None:
    env = {"PHIGATE_DATABASE_URL": database_url, "PHIGATE_MASTER_KEY": master_key,
           "PHIGATE_DATA_DIR": str(tmp_path)}  # fmt: skip
    org = await asyncio.to_thread(phigate, "organizations", "create", "--name", "General", env=env)
    assert org.returncode == 0, org.stderr
    org_id = field(org.stdout, "organization_id")
    made = await asyncio.to_thread(
        phigate, "users", "create", "--username", "admin.one", "--role", "admin",
        "--organization", org_id, env=env,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    http = session_client
    admin = await sign_in(
        http, clock, oathtool, "admin.one", field(made.stdout, "initial_password")
    )

    created = await gql(
        http, admin,
        "mutation($o: ID) { createAccount(username: \"dr.who\", role: PHYSICIAN, organization: $o)"
        " { account { id mustChangePassword } initialPassword } }",
        o=org_id,
    )  # fmt: skip
    doctor_id = created["data"]["createAccount"]["account"]["id"]
    dup = await gql(http, admin, 'mutation { createAccount(username: "dr.who", role: NURSE) '
                    "{ initialPassword } }")  # fmt: skip
    assert dup["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    own = await gql(http, admin, "{ accounts(role: ADMIN) { edges { node { id } } } }")
    admin_id = own["data"]["accounts"]["edges"][0]["node"]["id"]
    escalate = await gql(http, admin, "mutation($a: ID!) { setAccountRole(account: $a, "
                         "role: PHYSICIAN) { role } }", a=admin_id)  # fmt: skip
    assert escalate["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"

    doctor = await sign_in(
        http, clock, oathtool, "dr.who", created["data"]["createAccount"]["initialPassword"]
    )
    organization = await Organization.get(public_id=org_id)
    values: SyntheticPatient = synthetic_patient(__import__("random").Random(7))
    patient = await create_patient(session_app.state.keyring, organization, values)
    mrn = values.demographics["mrn"]
    read = "query($p: ID!) { patient(id: $p) { mrn } }"
    hidden = await gql(http, doctor, read, p=patient.public_id)
    assert hidden["errors"][0]["extensions"]["code"] == "NOT_FOUND"

    forbidden = await gql(http, doctor, "mutation($d: ID!, $m: String!) { assignCareTeam("
                          "clinician: $d, mrn: $m) { patient } }", d=doctor_id, m=mrn)  # fmt: skip
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assigned = await gql(http, admin, "mutation($d: ID!, $m: String!) { assignCareTeam("
                         "clinician: $d, mrn: $m) { patient } }", d=doctor_id, m=mrn)  # fmt: skip
    assert assigned["data"]["assignCareTeam"] == {"patient": patient.public_id}
    assert mrn not in str(assigned)
    unknown = await gql(http, admin, "mutation($d: ID!) { assignCareTeam(clinician: $d, "
                        'mrn: "NO-SUCH") { patient } }', d=doctor_id)  # fmt: skip
    assert unknown["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    admin_read = await gql(http, admin, read, p=patient.public_id)
    assert admin_read["data"] is None or admin_read["data"]["patient"] is None

    seen = await gql(http, doctor, read, p=patient.public_id)
    assert seen["data"]["patient"]["mrn"] == mrn
    end = "mutation($d: ID!, $p: ID!) { endCareTeamAssignment(clinician: $d, patient: $p) }"
    ended = await gql(http, admin, end, d=doctor_id, p=patient.public_id)
    assert ended["data"]["endCareTeamAssignment"] is True
    gone = await gql(http, doctor, read, p=patient.public_id)
    assert gone["errors"][0]["extensions"]["code"] == "NOT_FOUND"

    disabled = await gql(http, admin, "mutation($d: ID!) { disableAccount(account: $d) "
                         "{ active } }", d=doctor_id)  # fmt: skip
    assert disabled["data"]["disableAccount"] == {"active": False}
    refused = await http.post("/graphql", json={"query": "{ patients { totalCount } }"},
                              headers=doctor)  # fmt: skip
    assert refused.status_code == 401
    doctor_pk = (await User.get(public_id=doctor_id)).public_id
    events = set(
        await AuditEvent.filter(detail__contains=doctor_pk).values_list("event", flat=True)
    )
    assert {"USER_CREATED", "PASSWORD_CHANGED", "CARE_TEAM_ASSIGNED", "CARE_TEAM_REMOVED",
            "USER_DISABLED"} <= events  # fmt: skip
