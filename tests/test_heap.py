"""A server worker settles its interpreter once started (api/runtime.py; run in a child
process, since freezing the collector here would change the rest of the test session), and a
request leaves its rows to reference counting, not to the cyclic collector."""

from __future__ import annotations

import gc
import json
import subprocess
import sys

import httpx
import pytest

from crypto.sealed import Sealed
from models import ClinicalNote, Diagnosis, Encounter, Observation, Patient
from schema.context import RequestContext
from schema.execution import GuardedExecutionContext
from tests.helpers import gql
from tests.world import World

PROBE = """
import gc, json, sys
from api.runtime import SWITCH_INTERVAL, YOUNG_THRESHOLD, settle
before = gc.get_threshold(), sys.getswitchinterval()
settle()
print(json.dumps([gc.get_freeze_count(), before, gc.get_threshold(), YOUNG_THRESHOLD,
                  sys.getswitchinterval(), SWITCH_INTERVAL]))
"""


def test_settle_freezes_startup_collects_less_often_and_shortens_gil_waits() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    frozen, (thresholds, interval), after, young, switch, configured = json.loads(done.stdout)
    assert frozen > 1000, "what startup built is out of the collector's sight"
    assert after == [young, *thresholds[1:]]
    assert young > thresholds[0]
    assert switch == pytest.approx(configured)
    assert switch < interval


REQUEST_SIDE = (
    RequestContext, GuardedExecutionContext, Patient, Encounter, Diagnosis, Observation,
    ClinicalNote, Sealed,
)  # fmt: skip


@pytest.mark.parametrize("user", ["doc", "desk"])  # fields allowed; allowed, masked and denied
async def test_a_request_leaves_nothing_to_the_cyclic_collector(
    client: httpx.AsyncClient, world: World, user: str
) -> None:
    """Once its response is sent, a request's objects (its context, execution, rows and sealed
    values) are freed by reference count: none is left in a reference cycle, for a collection
    to walk and free (schema/execution.py, `build_response`)."""
    query = """{ patients { edges { node { id ssn encounters { id startDate }
                 diagnoses { code } observations { value } notes { text } } } } }"""
    await gql(client, query, as_user=user)  # warm: caches made once are not garbage
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        response = await gql(client, query, as_user=user)
        gc.collect()
        left = [type(o).__name__ for o in gc.garbage if isinstance(o, REQUEST_SIDE)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    patients = response.json()["data"]["patients"]["edges"]
    assert patients
    assert any(p["node"]["encounters"] for p in patients)
    assert left == []
