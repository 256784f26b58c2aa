"""Interpreter settings for a long-running server process: the garbage collector and the GIL.

A request leaves nothing to the cyclic collector: once its response is sent, its objects are
freed by reference count (schema/execution.py breaks the one cycle graphql-core makes, and
tests/test_heap.py checks). All a collection can find, then, is what is alive: the heap startup
built (the schema, ORM metadata, imported modules: 10-25 ms a walk on these machines,
bench/README.md), frozen here out of the collector's sight, and the requests in flight. CPython
counts its young generation as allocations minus deallocations, so a young collection comes
only when the requests in flight hold more objects than the threshold: set above what a page of
200 patients with every field holds at its peak (about 30,000), which CPython's default of 700
would walk hundreds of times, and 10,000 two or three times (11-14 ms a page).

The event loop's thread holds the GIL while it works; another thread that wants it back waits
for the switch interval. On SQLite every query runs in aiosqlite's thread, which needs the GIL
again to hand back its rows: at CPython's default of 5 ms, a request's audit write (in that
thread, while the loop opens the response's values) waited up to 5 ms per step of its
transaction, and under load every query waits behind other requests' work. At 0.5 ms the write
ends with the values opened (bench/README.md); a forced switch costs microseconds, and only when
a thread is waiting.
"""

from __future__ import annotations

import gc
import sys

YOUNG_THRESHOLD = 50_000
"""Net allocations between young collections."""
SWITCH_INTERVAL = 0.0005
"""Seconds the GIL's holder keeps it while another thread waits for it."""


def settle() -> None:
    """Call once startup is done: collect what startup left, freeze the rest, and hand the GIL
    to waiting threads sooner."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
    sys.setswitchinterval(SWITCH_INTERVAL)
