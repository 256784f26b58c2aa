from __future__ import annotations

import httpx

from tests.helpers import gql
from tests.world import OWN, World


async def test_physician_reads_own_patient(client: httpx.AsyncClient, world: World) -> None:
    response = await gql(
        client,
        "query($id: ID!) { patient(id: $id) { id givenName ssn birthDate } }",
        {"id": world.patients["own"]},
        as_user="doc",
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == {
        "data": {
            "patient": {
                "id": world.patients["own"],
                "givenName": OWN["given_name"],
                "ssn": OWN["ssn"],
                "birthDate": OWN["birth_date"],
            }
        }
    }
