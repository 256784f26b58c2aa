"""How far sealing is behind: the rows not yet in the hash chain and the age of the oldest.

Both come from the id range after the last seal (the primary key's index), so the cost is the
backlog's, not the table's; the count stops at `COUNT_LIMIT` so that a sealer stopped for days
does not make every sample a long scan. The age is the database's clock against itself (rows'
`recorded_at` is the database's), so no clock skew between hosts enters it.
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise import connections

from audit.sealer import sealed_through

COUNT_LIMIT = 1_000_000
_POSTGRES = (
    "SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(recorded_at)), 0) AS age "
    "FROM (SELECT recorded_at FROM audit_event WHERE id > $1 ORDER BY id LIMIT 1000000) AS p"
)
_SQLITE = (
    "SELECT count(*) AS n, "
    "coalesce((julianday('now') - julianday(min(recorded_at))) * 86400, 0) AS age "
    "FROM (SELECT recorded_at FROM audit_event WHERE id > ? ORDER BY id LIMIT 1000000) AS p"
)


@dataclass(frozen=True, slots=True)
class Lag:
    rows: int
    oldest_seconds: float
    """0 when every row is sealed."""


async def sealing_lag() -> Lag:
    connection = connections.get("default")
    sql = _POSTGRES if connection.capabilities.dialect == "postgres" else _SQLITE
    rows = await connection.execute_query_dict(sql, [await sealed_through()])
    return Lag(int(rows[0]["n"]), max(float(rows[0]["age"]), 0.0))
