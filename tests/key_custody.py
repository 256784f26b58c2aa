"""A real HSM and a real KMS endpoint for the key provider tests: SoftHSM2 from Debian (two
tokens, one of them to be pulled out), and moto's KMS in server mode as a process of its own.

Both are made once per test session: a token is initialised and given its key by
`phigate keys init-hsm`, a KMS key is created over moto's HTTP API."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import boto3
import pytest

from api.settings import KeyCustody, ProviderKind
from crypto.provider_config import KmsConfig, Pkcs11Config
from tests.ops import custody_env

TOKEN = "phigate-test"
OUTAGE_TOKEN = "phigate-outage"
"""A token of its own for the test that pulls it out, so the shared one stays in."""
PIN = "4711-test-pin"
REGION = "eu-central-1"
CHECK = timedelta(milliseconds=200)
"""Provider probe interval in these tests: an outage shows within a fraction of a second."""
_MODULES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")


def _missing(what: str, package: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is required under CI (Debian package {package})")
    pytest.skip(f"{what} not installed (apt-get install {package})")


def _softhsm_module() -> str:
    def found() -> str | None:
        return next((m for m in _MODULES if Path(m).exists()), None)

    if (found() is None or shutil.which("softhsm2-util") is None) and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "softhsm2"]
        if subprocess.run(install, capture_output=True, env=env, check=False).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env, check=False)
            subprocess.run(install, capture_output=True, env=env, check=False)
    module = found()
    if module is None or shutil.which("softhsm2-util") is None:
        _missing("SoftHSM2", "softhsm2")
    assert module is not None
    return module


@dataclass(frozen=True)
class SoftHsm:
    module: str
    tokens: Path

    def custody(self, token: str = TOKEN) -> KeyCustody:
        return KeyCustody(
            kind=ProviderKind.PKCS11,
            pkcs11=Pkcs11Config(self.module, token, "phigate-kek", PIN),
            check_interval=CHECK,
        )

    @contextlib.contextmanager
    def pulled(self, token: str) -> Iterator[None]:
        """The token is gone (its files moved away) until the block ends."""
        folder = next(
            d for d in self.tokens.iterdir() if token.encode() in (d / "token.object").read_bytes()
        )
        away = self.tokens.parent / "pulled"
        folder.rename(away)
        try:
            yield
        finally:
            away.rename(folder)


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    module = _softhsm_module()
    folder = tmp_path_factory.mktemp("softhsm")
    tokens = folder / "tokens"
    tokens.mkdir()
    config = folder / "softhsm2.conf"
    config.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n")
    # Read by the module when it is initialised: in this process and in every phigate command.
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(config)
    hsm = SoftHsm(module, tokens)
    try:
        for label in (TOKEN, OUTAGE_TOKEN):
            subprocess.run(
                [
                    *("softhsm2-util", "--init-token", "--free", "--label", label),
                    *("--pin", PIN, "--so-pin", f"so-{PIN}"),
                ],
                check=True,
                capture_output=True,
            )
            created = _init_hsm(hsm.custody(label), folder)
            assert "created on the token" in created, created
        assert "already on the token" in _init_hsm(hsm.custody(), folder)
        yield hsm
    finally:
        if previous is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = previous


def _init_hsm(custody: KeyCustody, data_dir: Path) -> str:
    env = {**os.environ, **custody_env(custody), "PHIGATE_DATA_DIR": str(data_dir)}
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "keys", "init-hsm"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@dataclass
class KmsServer:
    """moto's server on 127.0.0.1 holding one symmetric KMS key."""

    process: subprocess.Popen[bytes]
    endpoint: str
    key_arn: str = ""

    def custody(self) -> KeyCustody:
        return KeyCustody(
            kind=ProviderKind.AWS_KMS,
            kms=KmsConfig(key_id=self.key_arn, region=REGION, endpoint_url=self.endpoint),
            check_interval=CHECK,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def kms_server() -> Iterator[KmsServer]:
    # Static test credentials for moto: boto3 then never looks for real ones.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    port = _free_port()
    server = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen(
        [str(server), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    kms = KmsServer(process, f"http://127.0.0.1:{port}")
    try:
        _wait_for(port, process)
        client = boto3.session.Session().client(
            "kms", region_name=REGION, endpoint_url=kms.endpoint
        )
        kms.key_arn = client.create_key(Description="phigate test KEK")["KeyMetadata"]["Arn"]
        yield kms
    finally:
        kms.stop()


def _wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail("moto_server exited at start")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    pytest.fail("moto_server did not start listening")


@pytest.fixture(scope="session")
def shared_kms() -> Iterator[KmsServer]:
    with kms_server() as kms:
        yield kms
