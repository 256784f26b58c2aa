"""A server worker settles its heap once started (api/heap.py); run in a child process, since
freezing the collector here would change the rest of the test session."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import gc, json
from api.heap import YOUNG_THRESHOLD, settle
before = gc.get_threshold()
settle()
print(json.dumps([gc.get_freeze_count(), before, gc.get_threshold(), YOUNG_THRESHOLD]))
"""


def test_settle_freezes_startup_and_collects_young_objects_less_often() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    frozen, before, after, young = json.loads(done.stdout)
    assert frozen > 1000, "what startup built is out of the collector's sight"
    assert after == [young, *before[1:]]
    assert young > before[0]
