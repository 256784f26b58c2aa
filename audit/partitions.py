"""The monthly partitions of `audit_event` on PostgreSQL (migrations/0019_audit_partitions.py).

A row goes to the partition of its `at` month (UTC); an insert for a month without one fails,
and with it the request (fail closed). So the sealer's loop keeps the current month and
`MONTHS_AHEAD` more created, through the migration's SECURITY DEFINER function: the serving
role may not create tables itself. SQLite keeps one table: nothing to do there.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from tortoise import connections

MONTHS_AHEAD = 2
"""Two months: a sealer stopped for weeks still leaves the next month's inserts a partition."""


def month_of(at: datetime) -> date:
    """The first day of `at`'s month in UTC: the partition `at` belongs to."""
    utc = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return date(utc.year, utc.month, 1)


def add_months(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def partition_name(month: date) -> str:
    """As the migration's function names them."""
    return f"audit_event_{month:%Y_%m}"


async def ensure_partitions(now: datetime, months_ahead: int = MONTHS_AHEAD) -> int:
    """Creates the partitions from `now`'s month to `months_ahead` later that do not exist yet;
    returns how many it created (0 on SQLite)."""
    connection = connections.get("default")
    if connection.capabilities.dialect != "postgres":
        return 0
    first = month_of(now)
    rows = await connection.execute_query_dict(
        "SELECT phigate_audit_partitions($1, $2) AS made", [first, add_months(first, months_ahead)]
    )
    return int(rows[0]["made"])
