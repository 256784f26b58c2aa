"""Garbage-collector settings for a long-running server process.

A page of patients allocates tens of thousands of container objects that live until its response
is sent. With CPython's default thresholds each request then runs hundreds of young collections,
and every few requests a full collection walks every object the process holds, startup's too
(the schema, ORM metadata, imported modules: 10-25 ms a time on these machines, bench/README.md).
What startup built lives as long as the process, so it is frozen out of the collector's sight;
young objects are collected less often, so that most die by reference count before they are
ever walked.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000
"""Allocations between young collections (CPython's default is 700)."""


def settle() -> None:
    """Call once startup is done: collect what startup left, freeze the rest."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
