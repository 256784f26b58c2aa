"""Exposing the metrics: on a listener of their own, never the API's port, summed over the
server's workers the way prometheus-client documents for several processes.

Each worker process writes its values to memory-mapped files in `PROMETHEUS_MULTIPROC_DIR`
(prometheus-client reads the variable when it is first imported, so `phigate serve` sets it
before starting any worker); the supervising process, which serves no requests, answers
scrapes with `MultiProcessCollector` over those files. The folder is emptied at every start,
as prometheus-client asks: values of an earlier run would otherwise be added in.
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import CollectorRegistry, multiprocess, start_http_server

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


def prepare(directory: Path) -> Path:
    """Create (or empty) the folder the workers write to, and name it to them."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_DIR] = str(directory)
    return directory


def serve(host: str, port: int, directory: Path) -> None:
    """Answer scrapes on host:port from a daemon thread, with every worker's values."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    start_http_server(port, addr=host, registry=registry)


def worker_stopped() -> None:
    """A worker's live gauges leave the sum with it (`live*` modes); counters stay counted."""
    if os.environ.get(MULTIPROC_DIR):
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
