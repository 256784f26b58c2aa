"""authlib's server core is synchronous; the database is async. Its logic runs in a worker
thread (`in_thread`), and each database call it makes hops back onto the event loop (`wait`)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar, TypeVarTuple, Unpack

from anyio import from_thread, to_thread

P = ParamSpec("P")
T = TypeVar("T")
Ts = TypeVarTuple("Ts")


async def in_thread(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    return await to_thread.run_sync(lambda: fn(*args, **kwargs))


def wait(fn: Callable[[Unpack[Ts]], Coroutine[Any, Any, T]], *args: *Ts) -> T:
    """Run `fn(*args)` on the event loop from the worker thread and wait for its result."""
    return from_thread.run(fn, *args)
