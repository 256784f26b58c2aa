"""Whether the audit trail is being written: what readiness calls "the audit writer works".

Judged from the writes that happen anyway (a probe writes no audit row): a run of failures in a
row, recently, means the writer is failing; one success ends the run. A single failure is a
request's bad luck (its data was withheld, as always), not a reason to take the worker out of
a load balancer; and a run that is old no longer counts, so a worker that the load balancer
stopped sending requests to gets traffic again and can show it recovered.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

FAILURES_IN_A_ROW = 3
RECENT_SECONDS = 10.0


@dataclass(slots=True)
class Streak:
    failures: int = 0
    last_failure: float = 0.0

    def failed(self) -> None:
        self.failures += 1
        self.last_failure = time.monotonic()

    def succeeded(self) -> None:
        self.failures = 0

    def failing(self, in_a_row: int = FAILURES_IN_A_ROW) -> bool:
        recent = time.monotonic() - self.last_failure < RECENT_SECONDS
        return self.failures >= in_a_row and recent


REQUEST_RECORDS = Streak()
"""This process's writes of requests' PHI access records (audit/buffer.py)."""
