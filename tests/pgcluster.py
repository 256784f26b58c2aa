"""A throwaway PostgreSQL cluster for the test suite, started from the local binaries.

PostgreSQL refuses to run as root, so as root the cluster lives in a folder owned by `postgres`
and is driven through `runuser`; as any other user it runs as that user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg

BIN_DIRS = (
    "/usr/lib/postgresql/15/bin",
    "/usr/lib/postgresql/16/bin",
    "/usr/lib/postgresql/17/bin",
)


def find_bin_dir() -> Path | None:
    for candidate in (os.environ.get("PHIGATE_PG_BIN"), *BIN_DIRS):
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _runner(root: Path) -> tuple[list[str], str]:
    """The command prefix that runs PostgreSQL's binaries, and the cluster's superuser: as
    root, `postgres` through `runuser` (it owns `root`); otherwise the current user."""
    if os.geteuid() != 0:
        return [], pwd.getpwuid(os.geteuid()).pw_name
    pw = pwd.getpwnam("postgres")
    os.chown(root, pw.pw_uid, pw.pw_gid)
    return ["runuser", "-u", "postgres", "--"], "postgres"


def start_cluster(bin_dir: Path, root: Path, port: int, settings: str = "") -> str:
    """Start the cluster in `root/data` (created first if absent) on a loopback `port`, with
    extra `-c` `settings`; return its admin URL."""
    prefix, user = _runner(root)
    data = root / "data"

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True)

    if not (data / "PG_VERSION").exists():
        run(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", user, "--no-sync")
    options = (
        f"-F -p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200 "
        f"-c shared_preload_libraries=pg_stat_statements {settings}"
    )
    run(
        str(bin_dir / "pg_ctl"),
        "-D",
        str(data),
        "-o",
        options,
        "-l",
        str(root / "log"),
        "-w",
        "start",
    )
    return f"postgres://{user}@127.0.0.1:{port}/postgres"


def stop_cluster(bin_dir: Path, root: Path) -> None:
    prefix, _ = _runner(root)
    with contextlib.suppress(subprocess.CalledProcessError):
        subprocess.run(
            [
                *prefix,
                str(bin_dir / "pg_ctl"),
                "-D",
                str(root / "data"),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
            check=True,
            capture_output=True,
        )


@contextlib.contextmanager
def throwaway_cluster(bin_dir: Path) -> Iterator[str]:
    """Start a cluster on a free loopback port; yield its admin URL; remove it afterwards."""
    root = Path(tempfile.mkdtemp(prefix="phigate-pg-"))
    try:
        yield start_cluster(bin_dir, root, _free_port())
    finally:
        stop_cluster(bin_dir, root)
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def throwaway_database() -> Iterator[str]:
    """A fresh database in a throwaway cluster, for scripts (benchmarks, load tests)."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL binaries not found (set PHIGATE_PG_BIN)")
    with throwaway_cluster(bin_dir) as admin_url:
        subprocess.run(
            [str(bin_dir / "psql"), admin_url, "-q", "-c", "CREATE DATABASE phigate"],
            check=True,
            capture_output=True,
        )
        yield admin_url.rsplit("/", 1)[0] + "/phigate"


def with_database(admin_url: str, name: str) -> str:
    return admin_url.rsplit("/", 1)[0] + "/" + name


async def database_from_template(admin_url: str, template: str) -> str:
    """A new database copied from the migrated `template`; its URL."""
    name = f"t_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await admin.close()
    return with_database(admin_url, name)


async def drop_database(admin_url: str, url: str) -> None:
    """Drop the database at `url`, whoever is still connected to it."""
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await admin.close()
