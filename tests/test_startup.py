"""A server that cannot start says why in one line and exits non-zero, with one worker or
several (issue 25: two workers exited 0 after a traceback ending in `KeyUnavailable`)."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from api.startup import STARTUP_FAILURE, WRONG_MASTER_KEY
from tests.live import free_port


def phigate(env: dict[str, str], data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        env={
            **os.environ,
            **env,
            "PHIGATE_DATA_DIR": str(data_dir),
            "PHIGATE_PORT": str(free_port()),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_wrong_master_key_is_one_line_and_a_failed_start(
    database_url: str, master_key: str, tmp_path: Path, workers: str
) -> None:
    env = {"PHIGATE_DATABASE_URL": database_url, "PHIGATE_MASTER_KEY": master_key}
    seeded = phigate(env, tmp_path, "demo", "--patients", "1")
    assert seeded.returncode == 0, seeded.stderr
    wrong = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    result = phigate({**env, "PHIGATE_MASTER_KEY": wrong}, tmp_path, "serve", "--workers", workers)
    output = result.stdout + result.stderr
    assert result.returncode == STARTUP_FAILURE, output
    assert f"phigate: {WRONG_MASTER_KEY}" in output
    assert "Traceback" not in output
    assert "KeyUnavailable" not in output
    # The demo command opens the keys itself, before any server: the same line.
    demo = phigate({**env, "PHIGATE_MASTER_KEY": wrong}, tmp_path, "demo", "--patients", "1")
    assert demo.returncode == STARTUP_FAILURE
    assert demo.stderr.strip() == f"phigate: {WRONG_MASTER_KEY}"
