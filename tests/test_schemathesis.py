"""schemathesis (written elsewhere) drives the GraphQL endpoint of a real server: generated
documents for every field, checked for server errors. Development mode, for introspection."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from tests.helpers import secret_of, totp_code
from tests.live import live_server

EXAMPLES = os.environ.get("PHIGATE_FUZZ_EXAMPLES", "25")
ROOT = Path(__file__).resolve().parent.parent
HOOKS = "tests.schemathesis_hooks"


def test_schemathesis_finds_no_server_error(
    database_url: str, master_key: str, tmp_path: Path, oathtool: str
) -> None:
    env = {
        "PHIGATE_DATABASE_URL": database_url,
        "PHIGATE_MASTER_KEY": master_key,
        "PHIGATE_ENV": "development",
    }
    seeded = subprocess.run(
        [sys.executable, "-m", "api.cli", "demo", "--patients", "6"],
        env={**os.environ, **env, "PHIGATE_DATA_DIR": str(tmp_path)},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    password = re.search(r"dr\.grey\s+physician\s+(\S+)", seeded.stdout)
    assert password is not None
    with live_server(env, tmp_path) as server, server.client() as http:
        step = http.post("/auth/login", json={"username": "dr.grey", "password": password[1]})
        mfa_token = step.json()["mfa_token"]
        enrolment = http.post("/auth/mfa/enrol", json={"mfa_token": mfa_token}).json()
        code = totp_code(oathtool, secret_of(enrolment["otpauth_uri"]), datetime.now(UTC))
        token = http.post("/auth/mfa", json={"mfa_token": mfa_token, "code": code}).json()["token"]
        run = subprocess.run(
            [
                sys.executable, "-m", "schemathesis.cli", "run", f"{server.url}/graphql",
                "--header", f"Authorization: Bearer {token}",
                "--tls-verify", str(server.cert),
                "--max-examples", EXAMPLES,
                "--checks", "phigate_no_fault",
            ],
            # Run outside the repository: schemathesis keeps a cache in its working directory.
            cwd=tmp_path,
            env={**os.environ, "SCHEMATHESIS_HOOKS": HOOKS, "PYTHONPATH": str(ROOT)},
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "passed" in run.stdout.lower()
    assert "Traceback" not in server.output
