"""Several server workers, each accepting on a listening socket of its own (`SO_REUSEPORT`).

uvicorn's supervisor binds one socket and hands it to every worker. When a burst of connections
arrives, the worker that wakes first accepts all of them, and keep-alive clients then stay with
that worker: in the load test, all 8 of wrk's connections went to one of the 2 workers in half
the runs checked, and the other core sat idle. With a socket per worker in one `SO_REUSEPORT`
group, the kernel spreads new connections over the workers by a hash of their addresses. (Only
processes of the same user can join the group.)

The supervisor still starts, watches and restarts the workers: it is given a `PortShare`, a
socket bound to the port (never listening) that, when uvicorn pickles it for a new worker,
arrives there as a fresh socket bound to the same address. Where the platform has no
`SO_REUSEPORT`, the workers share one socket as before.
"""

from __future__ import annotations

import logging
import socket
from typing import Any, TypeVar

from uvicorn import Config
from uvicorn.supervisors import Multiprocess

from api.startup import STARTUP_FAILURE

log = logging.getLogger("phigate.workers")
S = TypeVar("S", bound=socket.socket)


def _reusing(sock: S) -> S:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    return sock


def _bound(family: int, address: Any) -> socket.socket:
    """A socket of the port's `SO_REUSEPORT` group, bound to `address`; uvicorn listens on it."""
    sock = _reusing(socket.socket(family, socket.SOCK_STREAM))
    sock.bind(address)
    return sock


class PortShare(socket.socket):
    """Bound to the port with `SO_REUSEPORT` (holding it, and fixing a port 0 to the one the
    system chose); pickled, it becomes another socket bound to the same address."""

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        return _bound, (int(self.family), self.getsockname())


def share_port(host: str, port: int) -> PortShare:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = _reusing(PortShare(family, socket.SOCK_STREAM))
    sock.bind((host, port))
    return sock


def run_workers(config: Config) -> int:
    """Serve with `config.workers` processes, supervised by uvicorn; returns the exit status.

    uvicorn's supervisor stops when a worker fails to start (it would fail the same way on
    every restart) but then returns as if all were well: a service manager saw exit 0. A
    worker that exited with uvicorn's startup-failure status makes the whole server's status
    that too, as with one worker."""
    if hasattr(socket, "SO_REUSEPORT"):
        sock: socket.socket = share_port(config.host, config.port)
        log.info("%d workers, each with a listening socket of its own", config.workers)
    else:
        sock = config.bind_socket()
    supervisor = Multiprocess(config, sockets=[sock])
    supervisor.run()
    failed = any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes)
    return STARTUP_FAILURE if failed else 0
