"""A killed `backup create` (kill -9) neither blocks the next one nor leaves an unencrypted copy
behind (issue 25: a 0-byte `<file>.partial` made every rerun say "<file> already exists", and
the SQLite snapshot stayed in /tmp)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from pathlib import Path

from starlette.applications import Starlette

from api.settings import Settings
from ops.workdir import WORK
from tests.ops import audit_locked, cli_env, phigate

PLAINTEXT = b"an unencrypted copy of the database"


async def _until(condition: object, what: str) -> None:
    assert callable(condition)
    for _ in range(600):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_killed_backup_leaves_nothing_that_blocks_or_leaks(
    settings: Settings, app: Starlette
) -> None:
    archive = settings.data_dir / "nightly.phigate-backup"
    partial = archive.with_name(archive.name + ".partial")
    # The backup audits itself after taking its .partial: with the audit table held, it waits
    # there (up to SQLite's busy timeout, 5 s), so the test stops it mid-backup however fast
    # the machine is. The app has made the data keys: creating them would not wait.
    async with audit_locked(settings.database_url):
        first = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "api.cli", "backup", "create", str(archive),
            env=cli_env(settings), stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            await _until(partial.exists, "the archive's .partial file")
            # Stopped mid-backup, it still holds the archive: a second backup must not take it.
            os.kill(first.pid, signal.SIGSTOP)
        except BaseException:
            first.kill()
            raise
    try:
        concurrent = await phigate(settings, "backup", "create", str(archive))
        assert concurrent.returncode == 1
        assert f"another backup is writing {partial}" in concurrent.stderr
        assert partial.exists()
    finally:
        first.kill()  # SIGKILL: no cleanup runs
        await first.wait()
    assert partial.exists()
    assert not archive.exists()

    # A command killed while it held an unencrypted copy in its work folder.
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from ops.workdir import work_folder
        with work_folder(Path({str(settings.data_dir)!r})) as folder:
            (folder / "snapshot.sqlite3").write_bytes({PLAINTEXT!r})
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    killed = await asyncio.create_subprocess_exec(sys.executable, "-c", script)
    assert await killed.wait() == -signal.SIGKILL
    work = settings.data_dir / WORK
    assert [p.read_bytes() for p in work.glob("*/snapshot.sqlite3")] == [PLAINTEXT]

    rerun = await phigate(settings, "backup", "create", str(archive))
    assert rerun.returncode == 0, rerun.stderr
    assert "left by an interrupted command" in rerun.stderr
    assert archive.exists()
    assert not partial.exists()
    assert list(work.iterdir()) == []  # the dead command's folder and lock are gone
    verified = await phigate(settings, "backup", "verify", str(archive))
    assert verified.returncode == 0, verified.stderr
    again = await phigate(settings, "backup", "create", str(archive))
    assert again.returncode == 1
    assert again.stderr.strip() == f"phigate: backup create: {archive} already exists"


async def test_a_partial_file_that_is_a_link_is_named_not_followed(settings: Settings) -> None:
    archive = settings.data_dir / "nightly.phigate-backup"
    target = settings.data_dir / "elsewhere"
    target.write_bytes(b"not ours")
    Path(f"{archive}.partial").symlink_to(target)  # noqa: ASYNC240
    refused = await phigate(settings, "backup", "create", str(archive))
    assert refused.returncode == 1
    assert "is not a file this command wrote; remove it" in refused.stderr
    assert target.read_bytes() == b"not ours"
