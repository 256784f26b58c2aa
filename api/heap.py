"""Garbage-collector settings for a long-running server process.

A request leaves nothing to the cyclic collector: once its response is sent, its objects are
freed by reference count (schema/execution.py breaks the one cycle graphql-core makes, and
tests/test_heap.py checks). All a collection can find, then, is what is alive: the heap startup
built (the schema, ORM metadata, imported modules: 10-25 ms a walk on these machines,
bench/README.md), frozen here out of the collector's sight, and the requests in flight. CPython
counts its young generation as allocations minus deallocations, so a young collection comes
only when the requests in flight hold more objects than the threshold: set above what a page of
200 patients with every field holds at its peak (about 30,000), which CPython's default of 700
would walk hundreds of times, and 10,000 two or three times (11-14 ms a page).
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000
"""Net allocations between young collections."""


def settle() -> None:
    """Call once startup is done: collect what startup left, freeze the rest."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
