"""SQLite side of backups: the online backup API (a consistent copy while the server runs)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import urlsplit

from ops.digests import MIGRATIONS_TABLE, SQLITE_TABLES, quote


def sqlite_path(url: str) -> Path:
    """`sqlite:///abs/path.sqlite3` or `sqlite://relative.sqlite3`, without query options."""
    return Path(url.removeprefix("sqlite://").split("?", 1)[0])


def is_sqlite(url: str) -> bool:
    return urlsplit(url).scheme == "sqlite"


def copy(source: Path, target: Path) -> None:
    """Copy a whole database page by page through SQLite's backup API. The target becomes a
    rollback-journal database (one self-contained file) if it was new."""
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def make_self_contained(path: Path) -> None:
    """Fold any write-ahead log into the file and stop using one: the file alone is the copy."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA journal_mode=DELETE")
    finally:
        connection.close()


def integrity_ok(path: Path) -> bool:
    connection = sqlite3.connect(path)
    try:
        return bool(connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok")
    finally:
        connection.close()


def holds_data(path: Path) -> bool:
    """Whether any table other than the migration records has a row (a missing file is empty)."""
    if not path.exists():
        return False
    connection = sqlite3.connect(path)
    try:
        for (table,) in connection.execute(SQLITE_TABLES).fetchall():
            if (
                table != MIGRATIONS_TABLE
                and connection.execute(
                    f"SELECT EXISTS (SELECT 1 FROM {quote(table)})"  # noqa: S608
                ).fetchone()[0]
            ):
                return True
        return False
    finally:
        connection.close()
