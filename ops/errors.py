"""What the databases raise, for command-line handlers that report it by type only (driver
messages can quote statements and their values)."""

from __future__ import annotations

import sqlite3

import asyncpg
from tortoise.exceptions import BaseORMException

DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    BaseORMException,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    sqlite3.Error,
    OSError,
)
