"""The benchmarks still run end to end (tiny sizes; their timings are not asserted, what they
check is: every answered request audited, no error)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _bench(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_guard_ratio_runs(database_url: str) -> None:
    out = _bench(
        "bench.guard_ratio", "--patients", "205", "--rounds", "1", "--database-url", database_url
    )
    for line in (
        "R1 full guard / control", "R2 check-in app", "front desk signed in", "R3 growth",
        "200 patients",
    ):  # fmt: skip
        assert line in out


def test_scale_runs(pg_admin_url: str | None) -> None:
    assert pg_admin_url is not None, "the scale benchmark needs PostgreSQL"
    out = _bench(
        "bench.scale", "--admin-url", pg_admin_url, "--patients", "40", "--patients", "60",
        "--rounds", "1", "--no-explain",
    )  # fmt: skip
    assert "seeded 40 patients" in out
    assert "report tally of 40 patients" in out  # aggregates read from it, as in a server
    for name in ("patient(id) 7 fields", "billing patients(first: 100)", "report.aggregate"):
        assert f"| `{name}" in out


def test_write_ratio_runs(database_url: str) -> None:
    out = _bench(
        "bench.write_ratio", "--patients", "20", "--rounds", "2", "--batch", "2",
        "--database-url", database_url,
    )  # fmt: skip
    # 20 seeded, 3 warm-up and 2 x 2 registered through the guard.
    assert "2 a round, 2 rounds, 27 patients at the end" in out
    for title in ("W1 registerPatient", "W2 updatePatient"):
        assert title in out
    assert len(re.findall(r"(wall|CPU ) +control .* ratio \d+\.\d\dx", out)) == 4


def _answered(out: str, kind: str) -> tuple[int, int]:
    found = re.search(rf"{kind} +answered +(\d+) +recorded +(\d+)", out)
    assert found is not None, out
    return int(found[1]), int(found[2])


def test_load_runs(wrk: str) -> None:
    out = _bench("bench.load", "--seconds", "2", "--connections", "4")
    assert "errors       non-2xx 0   socket 0" in out
    assert re.search(r"requests fully recorded .* partial sets 0; lost 0$", out, re.M), out


def test_load_at_scale_runs(wrk: str, pg_admin_url: str | None) -> None:
    assert pg_admin_url is not None, "the scale load needs PostgreSQL"
    out = _bench(
        "bench.load", "--scale", "40", "--scale", "60", "--rounds", "1", "--seconds", "2",
        "--connections", "4", "--admin-url", pg_admin_url,
    )  # fmt: skip
    assert (
        len(
            re.findall(
                r"patients +\d+\.\d req/s \(median\).* errors 0  audit records lost 0$", out, re.M
            )
        )
        == 2
    ), out
    assert re.search(r"60 / 40: \d+\.\d\dx the throughput \(median of per-round", out), out


def test_mixed_load_runs(wrk: str) -> None:
    out = _bench("bench.mixed_load", "--seconds", "3", "--connections", "4")
    assert "errors       non-2xx 0   socket 0" in out
    assert "GraphQL errors 0 (of which CONFLICT 0)" in out
    assert "reads recorded in part 0; writes refused 0" in out
    for kind in ("reads", "updates", "registers"):
        answered, recorded = _answered(out, kind)
        # Every answered request was recorded. More were served: at most one per connection
        # in flight when wrk stopped, and the read checked before the load.
        assert answered > 0, out
        assert answered <= recorded <= answered + 5, out
    assert out.count("records without a write 0") == 2, out


def test_fhir_import_runs(database_url: str) -> None:
    out = _bench("bench.fhir_import", "--patients", "3", "--database-url", database_url)
    assert "3 patients, 36 resources, 33 records" in out
    assert re.search(r"import / control time per record: \d+\.\d\dx", out), out
