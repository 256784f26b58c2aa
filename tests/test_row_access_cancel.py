"""Fields waiting on the request's one break-glass read: graphql-core cancels a field's
resolver when a sibling fails, and the others must still get the read's answer. A race the
HTTP app cannot stage on demand (a generated query once hit it), so it is staged here."""

from __future__ import annotations

import asyncio

from api.auth.sessions import user_principal
from models import User
from permissions.rows import RowAccess
from tests.world import World


async def test_a_cancelled_field_leaves_the_shared_read_to_the_others(world: World) -> None:
    user = await User.get(username="doc")
    rows = RowAccess(user_principal(user, "cancelled-sibling"))
    first = asyncio.ensure_future(rows.patients())
    second = asyncio.ensure_future(rows.patients())
    await asyncio.sleep(0)  # both now wait on the one read
    first.cancel()
    visible = await (await second).values_list("public_id", flat=True)
    assert set(visible) == {world.patients["own"]}
    assert first.cancelled()
