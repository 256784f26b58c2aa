"""Private work folders for decrypted or unencrypted copies, that a crash cannot leave behind.

A backup's SQLite snapshot and a verify's or restore's decrypted dump used to live in a
temporary folder under /tmp, removed when the command ended: a `kill -9` left them there, in
the clear, for good. They now live in `<data dir>/backup-work/` (0700, beside the database
itself), one folder per command, each held by a lock on its `<folder>.lock` file for as long as
the command runs. Every backup command and every `phigate serve` starts by removing the folders
whose lock nobody holds: their command is dead.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

WORK = "backup-work"
_LOCK = ".lock"


def _held(lock: Path) -> bool:
    """Whether a live process holds `lock` (a missing lock file is nobody's)."""
    try:
        fd = os.open(lock, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also releases the lock, if we just took it
    return False


def sweep(data_dir: Path) -> list[Path]:
    """Remove the work folders of dead commands; returns what was removed."""
    root = data_dir / WORK
    if not root.is_dir():
        return []
    removed = []
    for entry in root.iterdir():
        if entry.name.endswith(_LOCK):
            folder = entry.with_name(entry.name.removesuffix(_LOCK))
            if not folder.exists() and not _held(entry):
                entry.unlink(missing_ok=True)
            continue
        lock = entry.with_name(entry.name + _LOCK)
        if not _held(lock):
            shutil.rmtree(entry, ignore_errors=True)
            lock.unlink(missing_ok=True)
            removed.append(entry)
    return removed


@contextlib.contextmanager
def work_folder(data_dir: Path) -> Iterator[Path]:
    """A new 0700 folder under `<data dir>/backup-work`, removed on the way out; if the process
    dies first, the next command's sweep removes it."""
    root = data_dir / WORK
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    sweep(data_dir)
    folder = root / secrets.token_hex(8)
    lock_path = folder.with_name(folder.name + _LOCK)
    lock = os.open(lock_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        # Taken before the folder exists: a sweep never sees this folder unlocked.
        fcntl.flock(lock, fcntl.LOCK_EX)
        folder.mkdir(mode=0o700)
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        lock_path.unlink(missing_ok=True)
        os.close(lock)
