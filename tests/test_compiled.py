"""Compiled query shapes: slots follow the values; shapes that are not a pure function of their
values (a timestamp taken while building, a list whose length varies) are never compiled."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from tortoise.queryset import QuerySet

from models import Patient, ProxyGrant, User
from models.compiled import CompiledQueries
from tests.world import World


def by_user(values: Mapping[str, Any]) -> QuerySet[User]:
    return User.filter(username=values["name"], id__gte=values["from_id"]).limit(1)


async def test_slots_take_each_calls_values(world: World) -> None:
    users = CompiledQueries(User)
    doc = await User.get(username="doc")
    for name, from_id in (("doc", 0), ("nurse", 0), ("doc", doc.id + 1)):
        found = await users.select("by_user", by_user, name=name, from_id=from_id)
        expected = await User.filter(username=name, id__gte=from_id)
        assert [u.id for u in found] == [u.id for u in expected]
    assert None not in users._shapes.values(), "the shape compiled"


async def test_shapes_that_are_not_pure_run_through_the_orm(world: World) -> None:
    grants = CompiledQueries(ProxyGrant)

    def live(values: Mapping[str, Any]) -> QuerySet[ProxyGrant]:
        return ProxyGrant.filter(grantee__username=values["name"], expires_at__gt=datetime.now(UTC))

    patients = CompiledQueries(Patient)
    first = min(p.id for p in await Patient.all())

    def among(values: Mapping[str, Any]) -> QuerySet[Patient]:
        # A list whose length follows a value's: another shape for every length.
        return Patient.filter(id__in=[first + i for i in range(len(values["name"]))])

    for _ in range(2):
        assert len(await grants.select("live", live, name="parent")) == 1
        assert len(await grants.select("live", live, name="doc")) == 0
        assert len(await patients.select("among", among, name="a")) == 1
        assert len(await patients.select("among", among, name="abc")) == 3
    assert list(grants._shapes.values()) == [None]
    assert list(patients._shapes.values()) == [None]
