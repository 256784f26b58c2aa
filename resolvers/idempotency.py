"""`Idempotency-Key`: a mutation retried with the key its first attempt carried returns the
record that attempt wrote instead of writing again. Keys are per principal and kept for
`KEPT`; the record is read again through the guard, as it is now.

As the IETF's Idempotency-Key draft and Stripe do, a key is bound to its request: the same
mutation, target and arguments. A key sent again with other arguments (a client that reused
it for the next patient) is refused, and nothing is written: answering with the first record
would hand back another patient's registration as this one's."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from strawberry import UNSET

from models import IdempotencyKey
from schema.context import RequestContext
from schema.errors import BadInput

KEPT = timedelta(hours=24)
_KEY = re.compile(r"[\x21-\x7e]{1,200}")


def _hashed(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


@dataclasses.dataclass(frozen=True, slots=True)
class Attempt:
    """A mutation sent with an Idempotency-Key."""

    key_hash: bytes
    operation: str
    """The mutation and its target (`updatePatient:pat_...`)."""
    fingerprint: bytes
    """Keyed digest of its arguments (permissions.decisions.Access.fingerprint)."""


def attempt(ctx: RequestContext, operation: str, *arguments: object) -> Attempt | None:
    """The request as its key's first attempt is remembered; None without a key."""
    key = ctx.idempotency_key
    if key is None:
        return None
    if _KEY.fullmatch(key) is None:
        raise BadInput("Idempotency-Key must be 1 to 200 visible ASCII characters")
    request = json.dumps([operation, *arguments], default=_plain, sort_keys=True)
    return Attempt(_hashed(key), operation, ctx.access.fingerprint(request))


def _plain(value: object) -> object:
    """An input object as JSON: its fields as given, unset ones left out (an explicit null
    clears a field, so it counts). Their values are strings, numbers and booleans."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        given = ((f.name, getattr(value, f.name)) for f in dataclasses.fields(value))
        return {name: v for name, v in given if v is not UNSET}
    raise TypeError(f"an argument of type {type(value).__name__}")


async def replayed(ctx: RequestContext, attempt: Attempt | None) -> str | None:
    """The public id of the record the first attempt of this request wrote, if any."""
    if attempt is None:
        return None
    found = await IdempotencyKey.filter(
        actor=ctx.principal.actor, key_hash=attempt.key_hash, expires_at__gt=datetime.now(UTC)
    ).first()
    if found is None:
        return None
    # A key remembered before requests were fingerprinted (migration 0025) has none.
    fingerprint = attempt.fingerprint if found.fingerprint is None else found.fingerprint
    if found.operation != attempt.operation or fingerprint != attempt.fingerprint:
        raise BadInput("This Idempotency-Key was used for another request; nothing was written")
    return found.record_id


async def remember(
    ctx: RequestContext, connection: Any, attempt: Attempt | None, record_id: str
) -> None:
    """In the write's transaction: a second attempt racing the first fails on the unique key
    and writes nothing."""
    if attempt is None:
        return
    now = datetime.now(UTC)
    actor = ctx.principal.actor
    # An expired key may be used again.
    await (
        IdempotencyKey.filter(actor=actor, key_hash=attempt.key_hash, expires_at__lte=now)
        .using_db(connection)
        .delete()
    )
    await IdempotencyKey.create(
        using_db=connection,
        actor=actor,
        key_hash=attempt.key_hash,
        operation=attempt.operation,
        fingerprint=attempt.fingerprint,
        record_id=record_id,
        created_at=now,
        expires_at=now + KEPT,
    )
