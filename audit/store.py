"""Writes a request's audit records as one statement, whatever their number.

The rows travel as a single JSON parameter and are expanded by the database itself
(`json_to_recordset` on PostgreSQL, `json_each` on SQLite): one round trip, one statement, all
or nothing, and no per-record ORM objects on the hot path.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from tortoise import connections

COLUMNS = (
    "at", "request_id", "event", "actor", "role", "client", "purpose", "ip", "patient", "field",
    "path", "decision",
)  # fmt: skip
_COLUMN_LIST = ", ".join(COLUMNS)

_POSTGRES = (
    f"INSERT INTO audit_event ({_COLUMN_LIST}) "  # noqa: S608 - fixed column names only
    f"SELECT {_COLUMN_LIST} FROM json_to_recordset($1::json) AS r("
    + ", ".join(f"{c} {'timestamptz' if c == 'at' else 'text'}" for c in COLUMNS)
    + ")"
)
_SQLITE = (
    f"INSERT INTO audit_event ({_COLUMN_LIST}) SELECT "  # noqa: S608 - fixed column names only
    + ", ".join(f"json_extract(value, '$.{c}')" for c in COLUMNS)
    + " FROM json_each(?)"
)


async def write_records(records: Sequence[dict[str, Any]]) -> None:
    """Insert audit rows (dicts keyed by COLUMNS, `at` as ISO text) in one statement."""
    if not records:
        return
    connection = connections.get("default")
    sql = _POSTGRES if connection.capabilities.dialect == "postgres" else _SQLITE
    await connection.execute_query(sql, [json.dumps(records, separators=(",", ":"))])
