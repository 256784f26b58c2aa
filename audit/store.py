"""Writes a request's audit records as one statement, whatever their number.

What all records of a request share (time, request, actor, role...) is bound once; the part
that varies (patient, decision, purpose, the fields accessed) travels as one array parameter
that the database expands itself (`unnest` on PostgreSQL, `json_each` on SQLite): one round
trip, one statement, all or nothing, and no per-record ORM objects on the hot path.

When the request resolved identified PHI, the same round trip adds its patients to the actor's
export window of the hour and counts the window (PostgreSQL: one statement whose CTEs insert
the audit records and the window rows; SQLite, embedded: three statements, one transaction,
run together in the connection's thread, see `_write_sqlite`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tortoise import connections

from models.sqlite_thread import in_thread

SHARED = ("at", "request_id", "event", "actor", "role", "client", "ip")
VARYING = ("patient", "decision", "purpose", "phi_fields")
_COLUMNS = ", ".join(SHARED + VARYING)
_SHARED_PG = ", ".join(f"${i}" + ("::timestamptz" if i == 1 else "") for i in range(1, 8))

_POSTGRES = (
    f"INSERT INTO audit_event ({_COLUMNS}) SELECT {_SHARED_PG}, "  # noqa: S608 - constants only
    "r.patient, r.decision, r.purpose, r.phi_fields FROM "
    "unnest($8::text[], $9::text[], $10::text[], $11::text[]) AS r(patient, decision, purpose, "
    "phi_fields)"
)
# Data-modifying CTEs always run to completion, read or not; the final SELECT sees the window
# as it was before this statement, plus the rows the statement added. Patients already in the
# window (most of them, for an actor paging through the same list) are taken out with EXCEPT
# before the INSERT: one range scan of the window instead of a conflict check per row, about
# 1 ms less for a page of 200, whichever plan the server caches (an anti-join is as fast under
# a custom plan and slower than no filter under a generic one). ON CONFLICT settles races.
_POSTGRES_WINDOWED = (
    f"WITH audit AS ({_POSTGRES} RETURNING 1), "  # noqa: S608 - constants only
    "added AS (INSERT INTO export_window (actor, hour, patient) "
    "SELECT $4, $12, p FROM (SELECT unnest($13::text[]) EXCEPT SELECT patient FROM export_window "
    "WHERE actor = $4 AND hour = $12) AS new(p) ON CONFLICT DO NOTHING RETURNING 1) "
    "SELECT (SELECT count(*) FROM export_window WHERE actor = $4 AND hour = $12) "
    "+ (SELECT count(*) FROM added) AS n"
)
# json_extract of an object yields its JSON text: the field list is stored as JSON as it is.
_SQLITE = (
    f"INSERT INTO audit_event ({_COLUMNS}) SELECT ?, ?, ?, ?, ?, ?, ?, "  # noqa: S608
    "json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), "
    "json_extract(value, '$[3]') FROM json_each(?)"
)
# `WHERE true` tells SQLite's parser the ON CONFLICT belongs to the INSERT, not a join.
_SQLITE_WINDOW = (
    "INSERT INTO export_window (actor, hour, patient) SELECT ?, ?, value FROM json_each(?) "
    "WHERE true ON CONFLICT DO NOTHING"
)
_SQLITE_COUNT = "SELECT count(*) AS n FROM export_window WHERE actor = ? AND hour = ?"


@dataclass(frozen=True, slots=True)
class Shared:
    """The columns every record of one request has in common."""

    at: datetime
    request_id: str
    event: str
    actor: str
    role: str
    client: str | None
    ip: str | None

    def values(self) -> list[object]:
        """In `SHARED` order (not `dataclasses.astuple`, which deep-copies every value)."""
        return [getattr(self, name) for name in SHARED]


Row = tuple[str | None, str, str, str]
"""patient (None: a report's whole population), decision, purpose, and the JSON text of the
fields accessed (audit/buffer.py)"""


@dataclass(frozen=True, slots=True)
class Window:
    """The patients whose identified PHI the request resolved, and the hour they count in."""

    hour: int
    patients: Sequence[str]


async def write_records(shared: Shared, rows: Sequence[Row], window: Window | None) -> int:
    """Returns the distinct patients in the actor's window after this write (0 without one)."""
    if not rows:
        return 0
    connection = connections.get("default")
    if connection.capabilities.dialect == "postgres":
        patients, decisions, purposes, accessed = zip(*rows, strict=True)
        values = [*shared.values(), list(patients), list(decisions), list(purposes), list(accessed)]
        if window is None:
            await connection.execute_query(_POSTGRES, values)
            return 0
        counted = await connection.execute_query_dict(
            _POSTGRES_WINDOWED, [*values, window.hour, list(window.patients)]
        )
        return int(counted[0]["n"])
    # Stored the way Tortoise stores datetimes on SQLite, so the ORM reads them back.
    # Public ids, decisions and purposes need no escaping, and the field lists are JSON already.
    encoded = ",".join(f'[{_quoted(p)},"{d}","{u}",{fields}]' for p, d, u, fields in rows)
    values = [shared.at.isoformat(sep=" "), *shared.values()[1:], f"[{encoded}]"]
    windowed = None
    if window is not None:
        windowed = (shared.actor, window.hour, json.dumps(list(window.patients)))
    # One trip to aiosqlite's thread for the whole transaction (models/sqlite_thread.py).
    # Statement by statement, each trip back would wait for the event loop, which meanwhile
    # opens this response's values (about 8 ms a page of 200), so the write would end only
    # after them instead of alongside them.
    return int(await in_thread(connection, _write_sqlite, values, windowed))


def _quoted(text: str | None) -> str:
    return "null" if text is None else f'"{text}"'


def _write_sqlite(
    db: sqlite3.Connection, values: list[object], window: tuple[str, int, str] | None
) -> int:
    """In aiosqlite's thread, holding Tortoise's connection lock. A savepoint rather than BEGIN:
    it starts and commits a transaction of its own, or nests in one that is open."""
    db.execute("SAVEPOINT audit_write")
    try:
        db.execute(_SQLITE, values)
        readers = 0
        if window is not None:
            actor, hour, patients = window
            db.execute(_SQLITE_WINDOW, (actor, hour, patients))
            readers = db.execute(_SQLITE_COUNT, (actor, hour)).fetchone()[0]
        db.execute("RELEASE audit_write")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK TO audit_write")
            db.execute("RELEASE audit_write")
        raise
    return int(readers)
