"""How many stored values use each data key version, per sealed column."""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from models.keys import DataKey, KeyPurpose
from ops.sealed_tables import sealed_tables
from ops.sql import Statement, default_connection, is_postgres, quote


@dataclass(slots=True)
class KeyStatus:
    versions: dict[KeyPurpose, list[int]]
    columns: dict[str, Counter[int]] = field(default_factory=dict)
    """`table.column` -> values per data key version."""
    index_values: int = 0
    """Blind-index values (all under the one blind-index key version)."""
    providers: Counter[str] = field(default_factory=Counter)
    """Stored data, blind-index and audit keys per provider that wraps them (`local`,
    `pkcs11`, `aws-kms`): more than one means a `keys rewrap` is unfinished."""

    def primary(self, purpose: KeyPurpose) -> int:
        return max(self.versions[purpose])

    @property
    def totals(self) -> Counter[int]:
        total: Counter[int] = Counter()
        for counts in self.columns.values():
            total.update(counts)
        return total

    def as_json(self) -> dict[str, Any]:
        return {
            "data": {
                "primary": self.primary(KeyPurpose.DATA),
                "versions": self.versions[KeyPurpose.DATA],
                "columns": {c: _keyed(n) for c, n in self.columns.items()},
                "totals": _keyed(self.totals),
            },
            "blind_index": {
                "primary": self.primary(KeyPurpose.BLIND_INDEX),
                "versions": self.versions[KeyPurpose.BLIND_INDEX],
                "values": self.index_values,
            },
            "wrapped_by": dict(sorted(self.providers.items())),
        }

    def as_table(self) -> str:
        versions = sorted(set(self.versions[KeyPurpose.DATA]) | set(self.totals))
        width = max(len(c) for c in [*self.columns, "column"])
        head = [f"v{v}" + ("*" if v == self.primary(KeyPurpose.DATA) else "") for v in versions]
        lines = [f"{'column':<{width}} " + " ".join(f"{h:>8}" for h in head) + f" {'total':>8}"]
        for name, counts in [*self.columns.items(), ("total", self.totals)]:
            cells = " ".join(f"{counts[v]:>8}" for v in versions)
            lines.append(f"{name:<{width}} {cells} {sum(counts.values()):>8}")
        lines.append("* primary data key version")
        lines.append(
            f"blind index key: v{self.primary(KeyPurpose.BLIND_INDEX)}, "
            f"{self.index_values} indexed values"
        )
        wrapped = ", ".join(f"{name} ({n})" for name, n in sorted(self.providers.items()))
        lines.append(f"keys wrapped by: {wrapped}")
        return "\n".join(lines) + "\n"


def _keyed(counts: Counter[int]) -> dict[str, int]:
    return {str(v): n for v, n in sorted(counts.items())}


async def key_status() -> KeyStatus:
    versions: dict[KeyPurpose, list[int]] = {purpose: [] for purpose in KeyPurpose}
    providers: Counter[str] = Counter()
    for key in await DataKey.all().order_by("version"):
        versions[key.purpose].append(key.version)
        providers[key.provider] += 1
    status = KeyStatus(versions, providers=providers)
    connection = default_connection()
    for table in sealed_tables():
        for column in table.columns:
            stmt = Statement(is_postgres(connection))
            sql = (
                f"SELECT {stmt.version_of(column.column)} AS v, count(*) AS n "  # noqa: S608
                f"FROM {quote(table.table)} WHERE {quote(column.column)} IS NOT NULL GROUP BY 1"
            )
            counts: Counter[int] = Counter()
            for row in await connection.execute_query_dict(sql):
                counts[struct.unpack(">I", bytes(row["v"]))[0]] += int(row["n"])
            status.columns[column.binding] = counts
        for index in table.index_columns:
            sql = f"SELECT count(*) AS n FROM {quote(table.table)} WHERE {quote(index)} IS NOT NULL"  # noqa: S608
            status.index_values += int((await connection.execute_query_dict(sql))[0]["n"])
    return status
