"""Standalone launch (`launch/patient`): the patients a consenting user may launch an app
with, and the one they picked. Both are the user's own row access (permissions/rows.py): staff
pick a patient in their rows, a patient themselves or a patient whose proxy they hold."""

from __future__ import annotations

from api.auth.sessions import user_principal
from models import User
from permissions.rows import RowAccess

CHOICES = 50
"""How many patients the consent page offers to pick from; another is named by its id."""


async def launch_choices(user: User, request_id: str) -> list[str]:
    """Public ids of the first patients in the user's rows (no PHI: ids only)."""
    rows = await RowAccess(user_principal(user, request_id)).patients()
    ids = await rows.order_by("id").limit(CHOICES).values_list("public_id", flat=True)
    return [str(public_id) for public_id in ids]


async def launch_patient(user: User, request_id: str, patient_id: str) -> int | None:
    """The database key of the patient the user picked, if it is in their rows; None for one
    that is not or does not exist, alike."""
    found = await RowAccess(user_principal(user, request_id)).patient(patient_id)
    return None if found is None else found.id
