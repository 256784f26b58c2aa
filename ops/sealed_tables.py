"""Every table holding sealed values, found from the models (a new sealed column is included
without touching rotation or status)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tortoise import fields

import models
from models.base import PublicModel, SealedField


@dataclass(frozen=True, slots=True)
class SealedColumn:
    column: str
    """The database column."""
    binding: str
    """`table.column`, the first part of a value's associated data."""


@dataclass(frozen=True, slots=True)
class SealedTable:
    table: str
    columns: tuple[SealedColumn, ...]
    index_columns: tuple[str, ...]
    """Blind indexes (HMAC under the blind-index key) kept beside the ciphertext."""


def _db_column(model: type[PublicModel], name: str) -> str:
    field: fields.Field[Any] = model._meta.fields_map[name]
    return field.source_field or name


def _public_models() -> list[type[PublicModel]]:
    found = (getattr(models, name) for name in models.__all__)
    return [m for m in found if isinstance(m, type) and issubclass(m, PublicModel)]


def sealed_tables() -> tuple[SealedTable, ...]:
    tables = []
    for model in _public_models():
        columns = tuple(
            SealedColumn(_db_column(model, name), binding)
            for name, binding in model.sealed_columns()
        )
        # Binary columns that are not sealed hold blind indexes: nothing else is stored as bytes.
        index_columns = tuple(
            _db_column(model, name)
            for name, field in model._meta.fields_map.items()
            if isinstance(field, fields.BinaryField) and not isinstance(field, SealedField)
        )
        if columns:
            tables.append(SealedTable(model._meta.db_table, columns, index_columns))
    return tuple(tables)
