"""GraphQL types of the audit trail, accounting of disclosures and break-glass review.

Audit records hold identifiers, field names and paths only: no PHI value exists in the audit
table. A break-glass reason is free text that may name clinical facts, so it is a `@phi`
field (category NOTE) that auditors may read, and each reading is itself audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Generic, TypeVar

import strawberry

import models
from permissions.roles import Category, Decision, Purpose, Role
from permissions.rows import Subject
from schema.phi import phi
from schema.types import PageInfo, Patient

AuditDecision = strawberry.enum(Decision, name="Decision")
PurposeOfUse = strawberry.enum(Purpose, name="Purpose")

Node = TypeVar("Node")


# Strawberry names each use after its node: Edge[Disclosure] is `DisclosureEdge`.
@strawberry.type
class Edge(Generic[Node]):
    cursor: str
    node: Node


@strawberry.type(description="Newest first.")
class Connection(Generic[Node]):
    edges: list[Edge[Node]]
    page_info: PageInfo


@strawberry.type(description="A PHI field an access covered, and where it was in the response.")
class AccessedField:
    field: str
    path: str


@strawberry.type(description="One audit record: a security event, or one request's PHI access.")
class AuditRecord:
    id: strawberry.ID
    at: datetime
    request_id: str
    event: str
    actor: str = strawberry.field(description="Public id of the user or OAuth2 client.")
    role: str
    client: str | None
    purpose: PurposeOfUse  # type: ignore[valid-type]
    ip: str | None
    patient: str | None = strawberry.field(description="Public id of the patient, if any.")
    decision: AuditDecision | None  # type: ignore[valid-type]
    fields: list[AccessedField]


AuditRecordConnection = Connection[AuditRecord]


@strawberry.input(description="Every condition given must hold.")
class AuditFilter:
    actor: str | None = None
    patient: str | None = None
    event: str | None = None
    decision: AuditDecision | None = None  # type: ignore[valid-type]
    purpose: PurposeOfUse | None = None  # type: ignore[valid-type]
    from_: datetime | None = strawberry.field(default=None, name="from")
    to: datetime | None = strawberry.field(default=None, description="Exclusive.")


@strawberry.type(description="Someone else read identified PHI of your record.")
class Disclosure:
    at: datetime
    actor: str = strawberry.field(description="Public id of the user or OAuth2 client.")
    role: str
    username: str | None = strawberry.field(description="The staff member's login name.")
    purpose: PurposeOfUse  # type: ignore[valid-type]
    fields: list[str]
    action: str = strawberry.field(
        description="PHI_ACCESS for a read; CREATE or UPDATE for a change to the record."
    )


DisclosureConnection = Connection[Disclosure]


@strawberry.type(description="A physician's emergency access to a patient outside their care.")
class BreakGlassGrant:
    row: strawberry.Private[models.BreakGlassGrant]
    subject: strawberry.Private[Subject]

    id: strawberry.ID
    physician: str = strawberry.field(description="Public id of the physician.")
    physician_username: str
    patient: str = strawberry.field(description="Public id of the patient.")
    opened_at: datetime
    expires_at: datetime
    closed_at: datetime | None
    open: bool
    reason: str | None = phi(
        Category.NOTE,
        column="reason",
        allow=(Role.AUDITOR,),
        description="As the physician stated it; may hold clinical detail.",
    )


BreakGlassGrantConnection = Connection[BreakGlassGrant]


@strawberry.type(description="An emergency grant just opened, and the patient it opens.")
class EmergencyAccess:
    grant_id: strawberry.ID
    expires_at: datetime
    patient: Patient = strawberry.field(description="Reads under the grant are audited EMERGENCY.")
