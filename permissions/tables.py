"""Policy tables are checked when they are imported: a role, category or scope added without
its row fails at startup, not on the first request that needs the missing row."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from types import MappingProxyType
from typing import TypeVar

K = TypeVar("K", bound=Enum)
V = TypeVar("V")


def complete(name: str, rows: Mapping[K, V], keys: type[K]) -> Mapping[K, V]:
    """`rows` as a read-only table, if it has exactly one row for every member of `keys`."""
    missing = [key.name for key in keys if key not in rows]
    extra = [str(key) for key in rows if not isinstance(key, keys)]
    if missing or extra:
        raise RuntimeError(f"{name} must have a row for every {keys.__name__}: {missing or extra}")
    return MappingProxyType(dict(rows))
