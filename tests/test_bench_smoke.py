"""The benchmark still runs end to end (tiny sizes; its numbers are not asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_guard_ratio_runs(database_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.guard_ratio", "--patients", "205", "--rounds", "1",
         "--database-url", database_url],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    for line in (
        "R1 full guard / control", "R2 check-in app", "front desk signed in", "R3 growth",
        "200 patients",
    ):  # fmt: skip
        assert line in result.stdout


def test_scale_runs(pg_admin_url: str | None) -> None:
    assert pg_admin_url is not None, "the scale benchmark needs PostgreSQL"
    result = subprocess.run(
        [sys.executable, "-m", "bench.scale", "--admin-url", pg_admin_url, "--patients", "40",
         "--patients", "60", "--rounds", "1", "--no-explain"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "seeded 40 patients" in result.stdout
    for name in ("patient(id) 7 fields", "billing patients(first: 100)", "report.aggregate"):
        assert f"| `{name}" in result.stdout
