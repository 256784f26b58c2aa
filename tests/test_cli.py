"""The `phigate` command as a user runs it: a real process, a real uvicorn on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from api.cli import policy_document

ROLES = ("physician", "nurse", "front_desk", "billing", "patient", "researcher", "auditor", "admin")


def phigate(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_policy_command_prints_the_matrix() -> None:
    result = phigate("policy", "--markdown", env={})
    assert result.returncode == 0
    assert result.stdout == policy_document()


def test_production_without_master_key_refuses_clearly(tmp_path: Path) -> None:
    env = {"PHIGATE_ENV": "production", "PHIGATE_DATA_DIR": str(tmp_path)}
    env.pop("PHIGATE_MASTER_KEY", None)
    result = phigate("migrate", env={**env, "PHIGATE_MASTER_KEY": ""})
    assert result.returncode == 2
    assert "PHIGATE_MASTER_KEY is required" in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_and_demo_are_repeatable(
    database_url: str, master_key: str, tmp_path: Path
) -> None:
    env = {
        "PHIGATE_DATABASE_URL": database_url,
        "PHIGATE_MASTER_KEY": master_key,
        "PHIGATE_DATA_DIR": str(tmp_path),
    }
    for _ in range(2):
        assert phigate("migrate", env=env).returncode == 0
        demo = phigate("demo", "--patients", "4", env=env)
        assert demo.returncode == 0, demo.stderr
        for role in ROLES:
            assert f" {role} " in demo.stdout
    # The demo's rows have no write records: it built the report tally, which is up to date.
    tally = phigate("reports", "tally", env=env)
    assert tally.returncode == 0, tally.stderr
    assert tally.stdout == "report tally up to date\n"
    rebuilt = phigate("reports", "tally", "--rebuild", env=env)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert rebuilt.stdout.startswith("rebuilt: 4 patients, ")
    wrong = phigate("reports", "tally", env={**env, "PHIGATE_MASTER_KEY": "A" * 43 + "="})
    assert wrong.returncode == 1
    assert "wrong master key" in wrong.stderr
