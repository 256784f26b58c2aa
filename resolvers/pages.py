"""Pages of rows ordered by their integer key, newest first, with opaque cursors."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from tortoise.models import Model
from tortoise.queryset import QuerySet

from resolvers.patients import check_page_size
from schema import types
from schema.audit_types import Connection, Edge
from schema.errors import BadInput

Row = TypeVar("Row", bound=Model)
Node = TypeVar("Node")


@dataclass(frozen=True, slots=True)
class Page(Generic[Row]):
    rows: list[Row]
    cursors: list[str]
    info: types.PageInfo


def _encode(key: int) -> str:
    return base64.urlsafe_b64encode(str(key).encode()).decode()


def _decode(cursor: str) -> int:
    try:
        text = base64.b64decode(cursor.encode(), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not text.isdigit() or len(text) > 19:
        raise BadInput("Invalid cursor")
    return int(text)


async def newest_first(query: QuerySet[Row], first: int, after: str | None) -> Page[Row]:
    check_page_size(first)
    if after is not None:
        query = query.filter(id__lt=_decode(after))
    rows = await query.order_by("-id").limit(first + 1)
    shown = rows[:first]
    cursors = [_encode(row.pk) for row in shown]
    return Page(
        rows=shown,
        cursors=cursors,
        info=types.PageInfo(
            has_next_page=len(rows) > first, end_cursor=cursors[-1] if cursors else None
        ),
    )


def connection(page: Page[Row], node: Callable[[Row], Node]) -> Connection[Node]:
    """The page as a GraphQL connection, each row shown as `node(row)`."""
    return Connection(
        edges=[
            Edge(cursor=cursor, node=node(row))
            for row, cursor in zip(page.rows, page.cursors, strict=True)
        ],
        page_info=page.info,
    )
