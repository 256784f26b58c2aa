"""How far a page counts its list: `totalCount` stops at COUNT_LIMIT, so that a page costs a
page however many patients the caller may see (an exact count would read every row of a large
hospital on every page); `totalCountExact` tells the client whether it stopped."""

from __future__ import annotations

from typing import Any

from tortoise.queryset import QuerySet

COUNT_LIMIT = 1000


def bounded(counted: int) -> tuple[int, bool]:
    """`counted` is of at most COUNT_LIMIT + 1 rows: the total shown, and whether it is exact."""
    return min(counted, COUNT_LIMIT), counted <= COUNT_LIMIT


async def bounded_count(rows: QuerySet[Any], column: str = "id") -> tuple[int, bool]:
    """`rows` counted as `bounded` says. Values under a LIMIT rather than count(): Tortoise
    applies a limit to a count only after counting every row."""
    return bounded(len(await rows.limit(COUNT_LIMIT + 1).values_list(column)))
