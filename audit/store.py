"""Writes a request's audit records as one statement, whatever their number.

What all records of a request share (time, request, actor, role...) is bound once; the part
that varies (patient, decision, the fields accessed) travels as one array parameter that the
database expands itself (`unnest` on PostgreSQL, `json_each` on SQLite): one round trip, one
statement, all or nothing, and no per-record ORM objects on the hot path.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from datetime import datetime

from tortoise import connections

SHARED = ("at", "request_id", "event", "actor", "role", "client", "purpose", "ip")
VARYING = ("patient", "decision", "phi_fields")
_COLUMNS = ", ".join(SHARED + VARYING)
_SHARED_PG = ", ".join(f"${i}" + ("::timestamptz" if i == 1 else "") for i in range(1, 9))

_POSTGRES = (
    f"INSERT INTO audit_event ({_COLUMNS}) SELECT {_SHARED_PG}, "  # noqa: S608 - constants only
    "r.patient, r.decision, r.phi_fields "
    "FROM unnest($9::text[], $10::text[], $11::text[]) AS r(patient, decision, phi_fields)"
)
# json_extract of an array yields its JSON text: the field list is stored as JSON as it is.
_SQLITE = (
    f"INSERT INTO audit_event ({_COLUMNS}) SELECT ?, ?, ?, ?, ?, ?, ?, ?, "  # noqa: S608
    "json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]') "
    "FROM json_each(?)"
)


@dataclass(frozen=True, slots=True)
class Shared:
    """The columns every record of one request has in common."""

    at: datetime
    request_id: str
    event: str
    actor: str
    role: str
    client: str | None
    purpose: str
    ip: str | None


Row = tuple[str, str, Sequence[tuple[str, str]]]
"""patient, decision, and the (field, path) pairs accessed"""


async def write_records(shared: Shared, rows: Sequence[Row]) -> None:
    if not rows:
        return
    connection = connections.get("default")
    if connection.capabilities.dialect == "postgres":
        patients, decisions, accessed = zip(*rows, strict=True)
        encoded = [json.dumps(pairs, separators=(",", ":")) for pairs in accessed]
        await connection.execute_query(
            _POSTGRES, [*astuple(shared), list(patients), list(decisions), encoded]
        )
    else:
        # Stored the way Tortoise stores datetimes on SQLite, so the ORM reads them back.
        values = [shared.at.isoformat(sep=" "), *astuple(shared)[1:]]
        await connection.execute_query(_SQLITE, [*values, json.dumps(rows)])
