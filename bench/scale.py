"""Per-request latency against the population size, as ratios taken in one run.

    python -m bench.scale [--patients 2000 --patients 100000 ...] [--rounds 7] [--no-explain]
                          [--query Q ...] [--explain Q ...] [--admin-url URL]

Each size's database is seeded once and kept (bench/scale_seed.py). One worker process per
size loads its keyring and schema and waits; the rounds go to the workers in turn, each running
every query once, so a disturbance of the machine hits all sizes alike. Printed: the median per
size and query, the ratio of the largest size to the smallest, and then the
`EXPLAIN (ANALYZE, BUFFERS)` of every statement each query runs at the largest size (PostgreSQL's
auto_explain, in a worker of its own so the timed runs carry none of its cost).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import subprocess
import sys
import time

from tortoise import Tortoise

from api import runtime
from api.auth.sessions import user_principal
from api.db import tortoise_config
from bench import scale_seed
from crypto.provider import LocalKeyProvider
from models import CareTeamAssignment, Patient, User
from models.keystore import load_keyring
from schema.build import build_schema
from schema.context import RequestContext

SEVEN = "givenName familyName birthDate ssn mrn phone email"
PAGE = "{ patients(first: 100) { totalCount edges { node { id " + SEVEN + " } } } }"
QUERIES: dict[str, tuple[str, str]] = {
    "patient(id) 7 fields": ("bench.doc", '{ patient(id: "$ID") { ' + SEVEN + " } }"),
    "patients(first: 100)": ("bench.doc", PAGE),
    "report.patients(first: 100)": (
        "bench.desk",
        "{ report { patients(first: 100) { totalCount "
        "edges { age node { id birthDate zip } } } } }",
    ),
    "report.aggregate(DIAGNOSIS, AGE_BAND)": (
        "bench.research",
        "{ report { aggregate(by: [DIAGNOSIS, AGE_BAND]) { total suppressed "
        "cells { diagnosis ageBand count } } } }",
    ),
    "front desk patients(first: 100)": ("bench.desk", PAGE),
    "billing patients(first: 100)": ("bench.billing", PAGE),
}
"""name -> (who asks, query). Aggregates are the researcher's (they cover the organization);
report pages, withheld from researchers, the front desk's (it sees every patient of its
organization)."""
SLOW = 2.0
"""Seconds: a query slower than this at its warm-up is timed by that one run."""

EXPLAIN_SETTINGS = {
    "session_preload_libraries": "auto_explain",
    "auto_explain.log_min_duration": "0",
    "auto_explain.log_analyze": "on",
    "auto_explain.log_buffers": "on",
    "auto_explain.log_timing": "on",
}


class Worker:
    """One size's database, keyring and schema, running the queries in-process."""

    def __init__(self, url: str, explain: bool) -> None:
        self.url, self.explain = url, explain
        self.once: dict[str, float] = {}

    async def start(self, names: list[str]) -> None:
        config = tortoise_config(self.url)
        if self.explain:
            credentials = config["connections"]["default"]["credentials"]
            credentials["server_settings"] = EXPLAIN_SETTINGS
        await Tortoise.init(config=config)
        self.keyring = await load_keyring(LocalKeyProvider(scale_seed.master_key()))
        self.users = {u.username: u for u in await User.filter(username__in=list(scale_seed.STAFF))}
        doc = self.users["bench.doc"]
        first = await CareTeamAssignment.filter(user=doc).order_by("id").first()
        assert first is not None
        patient = await Patient.get(id=first.patient_id)  # type: ignore[attr-defined]
        self.queries = {
            name: (who, query.replace("$ID", patient.public_id))
            for name, (who, query) in QUERIES.items()
        }
        self.schema = build_schema()
        # One round warms the caches and compiled queries of every path. A query slower than
        # SLOW is not run again: its warm-up time is its one sample (an aggregate over a
        # million patients takes minutes, and its growth is plain at one run).
        warm = await self.round(names)
        self.once = {name: t for name, t in warm.items() if t > SLOW}
        runtime.settle()

    async def run(self, who: str, query: str) -> None:
        principal = user_principal(self.users[who], secrets.token_hex(12))
        context = RequestContext.create(principal, self.keyring, self.schema.plans)
        result = await self.schema.execute(query, context_value=context)
        unexpected = [
            e for e in result.errors or [] if (e.extensions or {}).get("code") != "FORBIDDEN"
        ]
        if unexpected:
            raise RuntimeError(unexpected[0])

    async def round(self, names: list[str]) -> dict[str, float]:
        times = dict(self.once)
        for name in names:
            if name in times:
                continue
            who, query = self.queries[name]
            started = time.perf_counter()
            await self.run(who, query)
            times[name] = time.perf_counter() - started
        return times

    async def plans(self, names: list[str]) -> None:
        log = scale_seed.ROOT / "log"
        for name in names:
            who, query = self.queries[name]
            start = log.stat().st_size
            await self.run(who, query)
            await asyncio.sleep(0.5)  # the server writes its log asynchronously
            with log.open() as text:
                text.seek(start)
                print(f"\n=== {name}\n{text.read()}", flush=True)


async def serve(url: str, names: list[str], explain: list[str] | None) -> None:
    worker = Worker(url, explain is not None)
    await worker.start(explain or names)
    try:
        if explain is not None:
            await worker.plans(explain)
            return
        await answer_rounds(worker, names)
    finally:
        await Tortoise.close_connections()


async def answer_rounds(worker: Worker, names: list[str]) -> None:
    """A worker process's side of `interleaved`: ready, then one round per line asked."""
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != "round":
            break
        print(json.dumps(await worker.round(names)), flush=True)


def _command(url: str, *flags: str) -> list[str]:
    return [sys.executable, "-m", "bench.scale", "--worker", url, *flags]


def _spawn(url: str, names: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        _command(url, *(f"--query={name}" for name in names)),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _ask(worker: subprocess.Popen[str], line: str | None = None) -> str:
    assert worker.stdin is not None
    assert worker.stdout is not None
    if line is not None:
        worker.stdin.write(line + "\n")
        worker.stdin.flush()
    answer = worker.stdout.readline()
    if not answer:
        raise RuntimeError("a benchmark worker stopped")
    return answer


def measure(urls: dict[int, str], names: list[str], rounds: int) -> dict[int, dict[str, float]]:
    return interleaved({size: _spawn(url, names) for size, url in urls.items()}, rounds)


def interleaved(
    workers: dict[int, subprocess.Popen[str]], rounds: int
) -> dict[int, dict[str, float]]:
    """Rounds asked of each size's worker in turn (a neighbour's burst hits every size alike);
    per size, the median of each timing."""
    try:
        for worker in workers.values():
            _ask(worker)  # ready
        samples: dict[int, list[dict[str, float]]] = {size: [] for size in workers}
        for _ in range(rounds):
            for size, worker in workers.items():
                samples[size].append(json.loads(_ask(worker, "round")))
    finally:
        for worker in workers.values():
            assert worker.stdin is not None
            worker.stdin.close()
            worker.wait()
    return {
        size: {name: statistics.median(s[name] for s in runs) for name in runs[0]}
        for size, runs in samples.items()
    }


def table(medians: dict[int, dict[str, float]]) -> str:
    sizes = sorted(medians)
    smallest, largest = sizes[0], sizes[-1]
    head = "| query | " + " | ".join(f"{s:,}" for s in sizes) + f" | {largest:,} / {smallest:,} |"
    lines = [head, "|---" * (len(sizes) + 2) + "|"]
    for name in medians[smallest]:
        cells = " | ".join(_ms(medians[s][name]) for s in sizes)
        ratio = medians[largest][name] / medians[smallest][name]
        lines.append(f"| `{name}` | {cells} | {ratio:.2f}x |")
    return "\n".join(lines)


def _ms(seconds: float) -> str:
    return f"{1000 * seconds:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


async def _urls(sizes: list[int], admin_url: str | None) -> dict[int, str]:
    admin_url = admin_url or scale_seed.cluster()
    return {size: await scale_seed.ensure(admin_url, size) for size in sizes}


def run() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", type=int, action="append")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--query", action="append", choices=list(QUERIES), help="time only these (default: all)"
    )
    parser.add_argument(
        "--explain", action="append", choices=list(QUERIES), help="only these (default: all)"
    )
    parser.add_argument("--no-explain", action="store_true")
    parser.add_argument(
        "--admin-url", help="a running PostgreSQL server to seed in (default: the kept cluster)"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        asyncio.run(serve(args.worker, args.query or list(QUERIES), args.explain))
        return
    sizes = sorted(args.patients or [2000, 100_000, 1_000_000])
    urls = asyncio.run(_urls(sizes, args.admin_url))
    medians = measure(urls, args.query or list(QUERIES), args.rounds)
    print(f"\nmedians of {args.rounds} interleaved rounds, in process, PostgreSQL:\n")
    print(table(medians))
    print(f"(a query slower than {SLOW:.0f} s at its warm-up is timed by that one run)")
    if not args.no_explain:
        print(f"\nEXPLAIN (ANALYZE, BUFFERS) at {max(urls):,} patients:")
        names = args.explain or list(QUERIES)
        flags = [f"--explain={name}" for name in names]
        subprocess.run(_command(urls[max(urls)], *flags), check=True)


if __name__ == "__main__":
    run()
