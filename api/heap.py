"""Garbage-collector settings for a long-running server process.

A page of patients holds tens of thousands of container objects until its response is sent. With
CPython's default thresholds each request then runs hundreds of young collections that walk them
all, and every few requests a full collection walks every object the process holds, startup's
too (the schema, ORM metadata, imported modules: 10-25 ms a time on these machines,
bench/README.md). What startup built lives as long as the process, so it is frozen out of the
collector's sight. A request's own objects are freed by reference count when it ends (a request
leaves a few hundred objects in reference cycles, `RequestContext.release`), and CPython counts a
young generation by allocations minus deallocations: with a threshold above what a few pages hold
at once, a request's objects are never walked, and a collection comes once every few hundred
requests, for their cycles.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 100_000
"""Net allocations between young collections (CPython's default is 700; a page of 200
patients with every field holds about 30,000 at its peak)."""


def settle() -> None:
    """Call once startup is done: collect what startup left, freeze the rest."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
