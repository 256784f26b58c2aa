"""Generated GraphQL documents (hypothesis-graphql, written elsewhere) against the real schema,
as every role: never a 500, never a body that is not JSON, never a PHI value beyond the role's
policy. `PHIGATE_FUZZ_EXAMPLES` raises the count for a long run (docs/testing.md)."""

from __future__ import annotations

import json
import os
import re
import warnings

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.errors import NonInteractiveExampleWarning
from hypothesis_graphql import nodes, queries

from schema.build import build_schema
from tests.helpers import gql
from tests.world import CHILD, CLINICAL, OTHER, OWN, World

EXAMPLES = int(os.environ.get("PHIGATE_FUZZ_EXAMPLES", "80"))
CLINICAL_VALUES = {
    CLINICAL["diagnosis"]["code"],
    CLINICAL["diagnosis"]["description"],
    CLINICAL["observation"]["value"],
    CLINICAL["note"]["text"],
}


def values(patient: dict[str, str], *exclude: str) -> set[str]:
    return {v for k, v in patient.items() if k not in exclude}


# What each role must never receive. Values shared with a patient the role may see (the
# family's common surname and address) are subtracted below. Staff reports show only what the
# role reads identified, de-identified, so the same sets hold for them.
EVERYTHING = values(OWN) | values(OTHER) | values(CHILD) | CLINICAL_VALUES
NEVER: dict[str, tuple[set[str], set[str]]] = {
    # role: (must not see, may see)
    "doc": (values(OTHER) | values(CHILD), values(OWN) | CLINICAL_VALUES),
    "nurse": (
        values(OTHER) | values(CHILD) | {OWN["ssn"], OWN["birth_date"]},
        values(OWN, "ssn", "birth_date") | CLINICAL_VALUES,
    ),
    "desk": (
        CLINICAL_VALUES | {OWN["ssn"], OTHER["ssn"], CHILD["ssn"]},
        values(OWN, "ssn") | values(OTHER, "ssn") | values(CHILD, "ssn"),
    ),
    "billing": (
        values(OTHER)
        | values(CHILD)
        | {CLINICAL["observation"]["value"], CLINICAL["note"]["text"]},
        values(OWN) | {CLINICAL["diagnosis"]["code"], CLINICAL["diagnosis"]["description"]},
    ),
    "alice": (values(OTHER) | values(CHILD), values(OWN) | CLINICAL_VALUES),
    "parent": (
        values(OWN) | values(OTHER) | {CHILD["ssn"], CHILD["mrn"]} | CLINICAL_VALUES,
        values(CHILD, "ssn", "mrn"),
    ),
    # A researcher reads through `report` only: Safe Harbor keeps clinical codes and values
    # (free-text notes are removed), never an identifier or a full date or ZIP.
    "rae": (EVERYTHING, CLINICAL_VALUES - {CLINICAL["note"]["text"]}),
    "auditor": (EVERYTHING, set()),
    "admin": (EVERYTHING, set()),
}


def documents(world: World) -> list[str]:
    ids = [*world.patients.values(), *world.children.values(), "pat_missing", "garbage"]
    strategy = queries(
        build_schema().as_str(),
        # Real ids and in-range page sizes, so generated documents reach PHI rather than stop
        # at NOT_FOUND or BAD_USER_INPUT (both are covered elsewhere).
        custom_scalars={
            "ID": st.sampled_from(ids).map(nodes.String),
            "Int": st.integers(1, 100).map(nodes.Int),
        },
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonInteractiveExampleWarning)
        return [strategy.example() for _ in range(EXAMPLES)]


settings.register_profile("phigate", suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("user", sorted(NEVER))
async def test_generated_queries_stay_within_policy(
    client: httpx.AsyncClient, world: World, user: str
) -> None:
    forbidden, allowed = NEVER[user]
    # Whole values: "male" (another patient's) is not leaked by "female" (the caller's own).
    secrets = {
        v: re.compile(rf"(?<![A-Za-z0-9]){re.escape(v)}(?![A-Za-z0-9])")
        for v in forbidden - allowed
        if len(v) >= 4
    }
    for document in documents(world):
        response = await gql(client, document, as_user=user)
        assert response.status_code in (200, 400), (document, response.status_code)
        body = response.json()
        assert "data" in body or "errors" in body, document
        # Request ids are random hex: drop them, or a ZIP code could turn up in one by chance.
        for error in body.get("errors") or []:
            error.get("extensions", {}).pop("request_id", None)
        text = json.dumps(body)
        leaked = sorted(v for v, pattern in secrets.items() if pattern.search(text))
        assert leaked == [], (user, document, leaked)
