"""Patient lookups and pages, always through the principal's row access."""

from __future__ import annotations

import base64
import binascii
from typing import TypeVar

import strawberry
from tortoise.expressions import Subquery

from models import ClinicalNote, Diagnosis, Encounter, Observation, Patient
from models.base import PublicModel
from permissions.counting import bounded_count
from permissions.rows import first_of
from schema import types
from schema.context import RequestContext
from schema.errors import BadInput, NotFound

MAX_PAGE = 100


def check_page_size(first: int) -> None:
    if not 1 <= first <= MAX_PAGE:
        raise BadInput(f"first must be between 1 and {MAX_PAGE}")


_CHILD_NODES: dict[str, tuple[type[PublicModel], type[types.Node]]] = {
    Encounter.PUBLIC_ID_PREFIX: (Encounter, types.Encounter),
    Diagnosis.PUBLIC_ID_PREFIX: (Diagnosis, types.Diagnosis),
    Observation.PUBLIC_ID_PREFIX: (Observation, types.Observation),
    ClinicalNote.PUBLIC_ID_PREFIX: (ClinicalNote, types.ClinicalNote),
}


def patient_node(ctx: RequestContext, row: Patient) -> types.Patient:
    return types.Patient(
        id=strawberry.ID(row.public_id), row=row, subject=ctx.access.rows.subject(row)
    )


async def patient(ctx: RequestContext, public_id: str) -> types.Patient:
    if not Patient.is_public_id(public_id):
        raise NotFound()
    row = await ctx.access.rows.patient(public_id)
    if row is None:
        raise NotFound()
    return patient_node(ctx, row)


async def node(ctx: RequestContext, public_id: str) -> types.Node:
    prefix = public_id.partition("_")[0]
    if prefix == Patient.PUBLIC_ID_PREFIX:
        return await patient(ctx, public_id)
    if prefix not in _CHILD_NODES:
        raise NotFound()
    model, node_type = _CHILD_NODES[prefix]
    row, owner = await visible_child(ctx, model, public_id)
    return types.child_node(node_type, row, ctx.access.rows.subject(owner))  # type: ignore[type-var]


Row = TypeVar("Row", bound=PublicModel)


async def visible_child(
    ctx: RequestContext, model: type[Row], public_id: str
) -> tuple[Row, Patient]:
    """A patient's record (an encounter, a diagnosis...) and its patient, within the caller's
    rows: NOT_FOUND otherwise, exactly as for the patient."""
    if not model.is_public_id(public_id):
        raise NotFound()
    visible = await ctx.access.rows.patients()
    row = await model.filter(
        public_id=public_id, patient_id__in=Subquery(visible.values("id"))
    ).first()
    if row is None:
        raise NotFound()
    owner = await Patient.get(id=row.patient_id)  # type: ignore[attr-defined]
    return row, owner


def _encode_cursor(public_id: str) -> str:
    return base64.urlsafe_b64encode(public_id.encode()).decode()


def _decode_cursor(cursor: str) -> str:
    try:
        public_id = base64.b64decode(cursor.encode(), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        public_id = ""
    if not Patient.is_public_id(public_id):
        raise BadInput("Invalid cursor")
    return public_id


async def patients(
    ctx: RequestContext, first: int, after: str | None, mrn: str | None, path: str
) -> types.PatientConnection:
    """`path`: where the field is in the response (`patients`), for a search's records."""
    check_page_size(first)
    access = ctx.access
    cursor = None if after is None else _decode_cursor(after)
    if mrn is None:
        total, exact = await access.rows.count()
        rows = await access.rows.first(cursor, first + 1)
    else:
        found = await access.search("Patient.mrn", mrn, f"{path}.mrn")
        total, exact = await bounded_count(found)
        rows = await first_of(found, cursor, first + 1)
    edges = [
        types.PatientEdge(cursor=_encode_cursor(row.public_id), node=patient_node(ctx, row))
        for row in rows[:first]
    ]
    return types.PatientConnection(
        edges=edges,
        page_info=types.PageInfo(
            has_next_page=len(rows) > first, end_cursor=edges[-1].cursor if edges else None
        ),
        total_count=total,
        total_count_exact=exact,
    )
