"""Mixed load: reads and writes on PostgreSQL with 2 uvicorn workers over TLS, driven by wrk.

    python -m bench.mixed_load [--seconds 15] [--connections 16] [--workers 2] [--patients 200]

The server, data and logins are bench/load.py's. Of every 20 requests, 16 read a patient with
7 PHI fields as a physician (over the care team's patients in turn), 3 change a patient's
phone as the front desk (`updatePatient` with the version the previous update of that patient
returned), and 1 registers a patient (bench/wrk_mixed.lua). Each wrk thread updates its own
share of the patients, one update in flight per patient, so versions never race: a CONFLICT
would be a bug, and is counted apart from the other errors.

Afterwards, with the server stopped: every answered read must have its audit records (exactly
its 7 fields), every answered update an UPDATE record and a revision, every registration a
CREATE record and a patient row. Requests in flight when wrk stopped were served but not
counted by wrk, so the database may hold up to `--connections` more than were answered (and
one more read: the one checked before the load).
"""

from __future__ import annotations

import asyncio
import secrets
import ssl
from pathlib import Path

import asyncpg

from bench.load import (
    PHI_FIELDS,
    QUERY,
    arguments,
    demo_database,
    graphql,
    login,
    patient_ids,
    print_traffic,
    read_records,
    run_wrk,
    wrk_binary,
)
from tests.live import live_server

LUA = Path(__file__).with_name("wrk_mixed.lua")


async def write_records(url: str, seeded: int) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        counted = {
            f"{r['event']}_{r['decision']}": int(r["n"])
            for r in await conn.fetch(
                "SELECT event, decision, count(*) AS n FROM audit_event "
                "WHERE event IN ('CREATE', 'UPDATE') GROUP BY event, decision"
            )
        }
        counted["revisions"] = int(await conn.fetchval("SELECT count(*) FROM patient_revision"))
        counted["added"] = int(await conn.fetchval("SELECT count(*) FROM patient")) - seeded
    finally:
        await conn.close()
    return counted


def _check(kind: str, answered: int, recorded: int, what: str = "", written: int = 0) -> None:
    """Lost: answered without its record. Records of requests in flight when wrk stopped (served,
    never counted) are not lost; a write's record must match a write, though."""
    line = f"   {kind:<10} answered {answered:6d}   recorded {recorded:6d}"
    if what:
        line += f"   {what} {written:6d}   records without a write {recorded - written}"
    print(line + f"   lost {max(0, answered - recorded)}")


def main() -> None:
    args = arguments(__doc__)
    wrk_binary()
    with demo_database(args.patients) as demo:
        with live_server(demo.env, demo.folder, "--workers", str(args.workers)) as server:
            doc = login(server, "dr.grey", demo.passwords["dr.grey"])
            desk = login(server, "desk.ada", demo.passwords["desk.ada"])
            reads = patient_ids(server, doc, 100)
            graphql(server, doc, QUERY, {"id": reads[0]})
            env = {
                "PHIGATE_READ_TOKEN": doc,
                "PHIGATE_WRITE_TOKEN": desk,
                "PHIGATE_READ_IDS": ",".join(reads),
                "PHIGATE_WRITE_IDS": ",".join(patient_ids(server, desk, 100)),
                "PHIGATE_READ_QUERY": QUERY,
                "PHIGATE_THREADS": str(args.threads),
                "PHIGATE_RUN": secrets.token_hex(2),
            }
            summary = run_wrk(server, LUA, env, args)
        read = asyncio.run(read_records(demo.url))
        written = asyncio.run(write_records(demo.url, args.patients))
    print_traffic(summary, args)
    print(
        f"mix          reads {summary['reads']}   updates {summary['updates']}"
        f"   registrations {summary['registers']}"
    )
    print(
        f"             GraphQL errors {summary['graphql_errors']}"
        f" (of which CONFLICT {summary['conflicts']})"
    )
    full = read.pop(str(PHI_FIELDS), 0)
    refused = written.get("CREATE_DENY", 0) + written.get("UPDATE_DENY", 0)
    print(f"audit        reads recorded in part {sum(read.values())}; writes refused {refused}")
    _check("reads", int(summary["reads"]), full)
    _check(
        "updates", int(summary["updates"]), written.get("UPDATE_ALLOW", 0), "revisions",
        written["revisions"],
    )  # fmt: skip
    _check(
        "registers", int(summary["registers"]), written.get("CREATE_ALLOW", 0), "patients added",
        written["added"],
    )  # fmt: skip


if __name__ == "__main__":
    ssl.create_default_context()  # fail early if the ssl module is unusable
    main()
