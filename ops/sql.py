"""Raw statements for both databases: placeholders, and the key version inside a stored blob."""

from __future__ import annotations

from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient

from crypto.keyring import VERSION_BYTES, VERSION_OFFSET


def default_connection() -> BaseDBAsyncClient:
    connection: BaseDBAsyncClient = connections.get("default")
    return connection


def is_postgres(connection: BaseDBAsyncClient) -> bool:
    return bool(connection.capabilities.dialect == "postgres")


class Statement:
    """Collects values in order and hands out the matching placeholder for each dialect."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres
        self.values: list[Any] = []

    def bind(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}" if self.postgres else "?"

    def version_of(self, column: str) -> str:
        """SQL for the key version bytes of a blob column (1-based offsets in SQL)."""
        start = VERSION_OFFSET + 1
        if self.postgres:
            return f"substring({quote(column)} from {start} for {VERSION_BYTES})"
        return f"substr({quote(column)}, {start}, {VERSION_BYTES})"


def quote(identifier: str) -> str:
    # Identifiers come from our own model metadata, never from input; quoted all the same.
    return '"' + identifier.replace('"', '""') + '"'
