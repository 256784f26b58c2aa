"""`totalCount` of a patient page is exact up to a bound and says when it stopped (issue 21)."""

from __future__ import annotations

import httpx

from crypto.keyring import Keyring
from models import Organization, Patient
from permissions.counting import COUNT_LIMIT
from tests.helpers import gql
from tests.world import World

PAGE = "{ patients(first: 2) { totalCount totalCountExact edges { node { id } } } }"


async def _register(keyring: Keyring, first: int, count: int) -> None:
    org = await Organization.get(name="Test Hospital")
    rows = []
    for n in range(first, first + count):
        patient = Patient(organization=org)
        patient.seal_identity(
            keyring, mrn=f"BULK-{n}", given_name="Bulk", family_name="Person",
            birth_date="1990-01-01",
        )  # fmt: skip
        rows.append(patient)
    await Patient.bulk_create(rows)


async def test_total_count_is_exact_up_to_the_bound_and_says_when_it_stops(
    client: httpx.AsyncClient, world: World, keyring: Keyring
) -> None:
    async def front_desk_page() -> dict[str, object]:
        body = (await gql(client, PAGE, as_user="desk")).json()
        assert "errors" not in body
        page: dict[str, object] = body["data"]["patients"]
        return page

    shown = len(world.patients)
    await _register(keyring, 0, COUNT_LIMIT - shown)
    at_bound = await front_desk_page()
    assert (at_bound["totalCount"], at_bound["totalCountExact"]) == (COUNT_LIMIT, True)

    await _register(keyring, COUNT_LIMIT, 1)
    beyond = await front_desk_page()
    assert (beyond["totalCount"], beyond["totalCountExact"]) == (COUNT_LIMIT, False)
    assert len(beyond["edges"]) == 2  # type: ignore[arg-type]
