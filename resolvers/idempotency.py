"""`Idempotency-Key`: a mutation retried with the key its first attempt carried returns the
record that attempt wrote instead of writing again. Keys are per principal and kept for
`KEPT`; the record is read again through the guard, as it is now."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from models import IdempotencyKey
from schema.context import RequestContext
from schema.errors import BadInput

KEPT = timedelta(hours=24)
_KEY = re.compile(r"[\x21-\x7e]{1,200}")


def _hashed(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def _key(ctx: RequestContext) -> bytes | None:
    key = ctx.idempotency_key
    if key is None:
        return None
    if _KEY.fullmatch(key) is None:
        raise BadInput("Idempotency-Key must be 1 to 200 visible ASCII characters")
    return _hashed(key)


async def replayed(ctx: RequestContext, operation: str) -> str | None:
    """The public id of the record the first attempt of this request wrote, if any."""
    key = _key(ctx)
    if key is None:
        return None
    found = await IdempotencyKey.filter(
        actor=ctx.principal.actor, key_hash=key, expires_at__gt=datetime.now(UTC)
    ).first()
    if found is None:
        return None
    if found.operation != operation:
        raise BadInput("This Idempotency-Key was used for another request; nothing was written")
    return found.record_id


async def remember(ctx: RequestContext, connection: Any, operation: str, record_id: str) -> None:
    """In the write's transaction: a second attempt racing the first fails on the unique key
    and writes nothing."""
    key = _key(ctx)
    if key is None:
        return
    now = datetime.now(UTC)
    actor = ctx.principal.actor
    # An expired key may be used again.
    await (
        IdempotencyKey.filter(actor=actor, key_hash=key, expires_at__lte=now)
        .using_db(connection)
        .delete()
    )
    await IdempotencyKey.create(
        using_db=connection,
        actor=actor,
        key_hash=key,
        operation=operation,
        record_id=record_id,
        created_at=now,
        expires_at=now + KEPT,
    )
