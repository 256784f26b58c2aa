"""Organizations: the hospital, a clinic, a partner. Names are not PHI."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from api.admin.acting import Acting, AdminError, Unknown
from api.clock import Clock
from audit.events import AdminEvent
from models import Organization

MAX_NAME = 200


async def create_organization(acting: Acting, name: str, clock: Clock) -> Organization:
    stated = name.strip()
    if not 1 <= len(stated) <= MAX_NAME:
        raise AdminError(f"An organization name must be 1 to {MAX_NAME} characters")
    if await Organization.exists(name=stated):
        raise AdminError("An organization of that name exists already")
    async with in_transaction():
        organization = Organization(name=stated)
        await acting.record(AdminEvent.ORGANIZATION_CREATED, clock.now(), organization.public_id)
        await organization.save()
    return organization


async def list_organizations() -> list[Organization]:
    return await Organization.all().order_by("id")


async def organization(public_id: str) -> Organization:
    found = None
    if Organization.is_public_id(public_id):
        found = await Organization.get_or_none(public_id=public_id)
    if found is None:
        raise Unknown("No such organization")
    return found
