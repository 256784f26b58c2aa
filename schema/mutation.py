"""The mutation root. Strawberry refuses mutations over GET: they need a JSON POST."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from resolvers import admin, break_glass, clinical_writes, patient_writes, proxies
from schema import admin_types, audit_types, types
from schema.admin_types import ProxyScopeEnum
from schema.inputs import (
    DiagnosisChanges,
    NewDiagnosis,
    NewEncounter,
    NewNote,
    NewObservation,
    NoteChanges,
    ObservationChanges,
    PatientChanges,
    RegisterPatientInput,
)
from schema.invariants import rows
from schema.phi import PhiRole


def _input_path(info: Info[Any, None]) -> str:
    """Where a mutation's input is, for its audit records: `<response key>.input`."""
    return f"{info.path.key}.input"


_ADD = (
    "Records a new {} for a patient in the caller's rows (NOT_FOUND otherwise). Every field "
    "must be writable by the caller, or nothing is written. Send an `Idempotency-Key` header "
    "to make a retry return the first result."
)
_AMEND = (
    "Amends {} in the caller's rows: a new version of the same entry. `version` is the "
    "version read (a stale one is CONFLICT, nothing written); `reason` is required. The "
    "replaced values stay in its `history`; `enteredInError: true` labels it, on record."
)
_ENCOUNTER = strawberry.argument(
    description="An encounter of the same patient (BAD_USER_INPUT otherwise)."
)
_ROWS = rows("the caller's row access")


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description=(
            "Break-glass: a physician opens time-limited emergency access to a patient outside "
            "their care team, found by MRN, stating why. Every read under it is audited with "
            "purpose EMERGENCY and listed for review."
        ),
        metadata=rows("the break-glass grant it opens"),
    )
    async def open_emergency_access(
        self, info: Info[Any, None], mrn: str, reason: str, minutes: int | None = None
    ) -> audit_types.EmergencyAccess:
        return await break_glass.open_emergency_access(info.context, mrn, reason, minutes)

    @strawberry.mutation(description="Ends your own emergency grant early.")
    async def close_emergency_access(self, info: Info[Any, None], grant_id: strawberry.ID) -> bool:
        return await break_glass.close_emergency_access(info.context, grant_id)

    # Administration: admins only (a capability each), never reading PHI.

    @strawberry.mutation(
        description=(
            "Creates an account with a one-time initial password, changed at first login. "
            "Usernames are never reused."
        )
    )
    async def create_account(
        self,
        info: Info[Any, None],
        username: str,
        role: PhiRole,  # type: ignore[valid-type]
        organization: strawberry.ID | None = None,
    ) -> admin_types.CreatedAccount:
        return await admin.create_account(info.context, username, role, organization)

    @strawberry.mutation(description="Changes an account's role; its sessions end. Not your own.")
    async def set_account_role(
        self,
        info: Info[Any, None],
        account: strawberry.ID,
        role: PhiRole,  # type: ignore[valid-type]
    ) -> admin_types.Account:
        return await admin.set_role(info.context, account, role)

    @strawberry.mutation(description="Disables an account (kept, with its history); sessions end.")
    async def disable_account(
        self, info: Info[Any, None], account: strawberry.ID
    ) -> admin_types.Account:
        return await admin.disable(info.context, account)

    @strawberry.mutation(description="Enables a disabled account. Not your own.")
    async def enable_account(
        self, info: Info[Any, None], account: strawberry.ID
    ) -> admin_types.Account:
        return await admin.enable(info.context, account)

    @strawberry.mutation(description="Forgets the authenticator; the next login enrols one.")
    async def reset_account_mfa(
        self, info: Info[Any, None], account: strawberry.ID
    ) -> admin_types.Account:
        return await admin.reset_mfa(info.context, account)

    @strawberry.mutation(description="Ends every session, device and token of the account.")
    async def logout_account(
        self, info: Info[Any, None], account: strawberry.ID
    ) -> admin_types.Account:
        return await admin.logout(info.context, account)

    @strawberry.mutation(description="CIDRs the account may connect from; empty: no extra limit.")
    async def set_account_networks(
        self, info: Info[Any, None], account: strawberry.ID, networks: list[str]
    ) -> admin_types.Account:
        return await admin.set_networks(info.context, account, networks)

    @strawberry.mutation(description="Creates an organization.")
    async def create_organization(
        self, info: Info[Any, None], name: str
    ) -> admin_types.Organization:
        return await admin.create_organization(info.context, name)

    @strawberry.mutation(
        description=(
            "Puts a physician or nurse on a patient's care team, the patient found by MRN "
            "(blind index; no PHI is returned, only public ids)."
        )
    )
    async def assign_care_team(
        self, info: Info[Any, None], clinician: strawberry.ID, mrn: str
    ) -> admin_types.CareTeamAssignment:
        return await admin.assign_care_team(info.context, clinician, mrn)

    @strawberry.mutation(
        description="Ends an assignment: the patient leaves the clinician's rows at once."
    )
    async def end_care_team_assignment(
        self, info: Info[Any, None], clinician: strawberry.ID, patient: strawberry.ID
    ) -> bool:
        return await admin.end_care_team(info.context, clinician, patient)

    @strawberry.mutation(description="Registers an OAuth2 client; its secret is shown once.")
    async def create_oauth_client(
        self, info: Info[Any, None], registration: admin_types.ClientRegistration
    ) -> admin_types.CreatedClient:
        return await admin.create_oauth_client(info.context, registration)

    @strawberry.mutation(description="Revokes a client and every token it holds.")
    async def revoke_oauth_client(self, info: Info[Any, None], client: strawberry.ID) -> bool:
        return await admin.revoke_oauth_client(info.context, client)

    # Proxy grants: a patient for their own record; front desk for a patient in person.

    @strawberry.mutation(
        description=(
            "Patients: lets another patient portal account (a parent, a caregiver) see part of "
            "your record. No expiry: until you revoke it."
        ),
        metadata=rows("the caller's own record"),
    )
    async def grant_proxy_access(
        self,
        info: Info[Any, None],
        username: str,
        scope: ProxyScopeEnum,  # type: ignore[valid-type]
        expires_at: datetime | None = None,
    ) -> admin_types.ProxyGrant:
        return await proxies.grant_proxy(info.context, username, scope, expires_at)

    @strawberry.mutation(description="Patients: revokes one of your proxy grants.")
    async def revoke_proxy_access(self, info: Info[Any, None], grant: strawberry.ID) -> bool:
        return await proxies.revoke_proxy(info.context, grant)

    @strawberry.mutation(
        description=(
            "Front desk: records a proxy grant a patient asked for in person, stating why."
        ),
        metadata=rows("the caller's row access"),
    )
    async def record_proxy_grant(
        self,
        info: Info[Any, None],
        patient: strawberry.ID,
        username: str,
        scope: ProxyScopeEnum,  # type: ignore[valid-type]
        reason: str,
        expires_at: datetime | None = None,
    ) -> admin_types.ProxyGrant:
        return await proxies.record_proxy(
            info.context, patient, username, scope, expires_at, reason
        )

    @strawberry.mutation(
        description=(
            "Registers a patient in the caller's organization. Every field set must be "
            "writable by the caller (front desk, by default), or nothing is written. Send an "
            "`Idempotency-Key` header to make a retry return the first result."
        ),
        metadata=rows("the patient it registers, then the caller's row access"),
    )
    async def register_patient(
        self, info: Info[Any, None], input: RegisterPatientInput
    ) -> types.Patient:
        return await patient_writes.register_patient(info.context, input, _input_path(info))

    @strawberry.mutation(
        description=(
            "Changes some fields of a patient in the caller's rows (NOT_FOUND otherwise). "
            "`version` is the version read: a stale one is CONFLICT and nothing is written. "
            "The previous values are kept in `Patient.history`."
        ),
        metadata=rows("the caller's row access"),
    )
    async def update_patient(
        self,
        info: Info[Any, None],
        id: strawberry.ID,
        version: int,
        input: PatientChanges,
        reason: str | None = None,
    ) -> types.Patient:
        return await patient_writes.update_patient(
            info.context, id, version, input, reason, _input_path(info)
        )

    @strawberry.mutation(description=_ADD.format("diagnosis"), metadata=_ROWS)
    async def add_diagnosis(
        self,
        info: Info[Any, None],
        patient: strawberry.ID,
        input: NewDiagnosis,
        encounter: Annotated[strawberry.ID | None, _ENCOUNTER] = None,
    ) -> types.Diagnosis:
        return await clinical_writes.add(
            info.context, clinical_writes.DIAGNOSIS, patient, input, _input_path(info), encounter
        )

    @strawberry.mutation(description=_AMEND.format("a diagnosis"), metadata=_ROWS)
    async def amend_diagnosis(
        self,
        info: Info[Any, None],
        id: strawberry.ID,
        version: int,
        input: DiagnosisChanges,
        reason: str,
    ) -> types.Diagnosis:
        return await clinical_writes.amend(
            info.context, clinical_writes.DIAGNOSIS, id, version, input, reason, _input_path(info)
        )

    @strawberry.mutation(description=_ADD.format("observation"), metadata=_ROWS)
    async def add_observation(
        self, info: Info[Any, None], patient: strawberry.ID, input: NewObservation
    ) -> types.Observation:
        return await clinical_writes.add(
            info.context, clinical_writes.OBSERVATION, patient, input, _input_path(info)
        )

    @strawberry.mutation(description=_AMEND.format("an observation"), metadata=_ROWS)
    async def amend_observation(
        self,
        info: Info[Any, None],
        id: strawberry.ID,
        version: int,
        input: ObservationChanges,
        reason: str,
    ) -> types.Observation:
        return await clinical_writes.amend(
            info.context, clinical_writes.OBSERVATION, id, version, input, reason, _input_path(info)
        )

    @strawberry.mutation(description=_ADD.format("clinical note"), metadata=_ROWS)
    async def add_note(
        self,
        info: Info[Any, None],
        patient: strawberry.ID,
        input: NewNote,
        encounter: Annotated[strawberry.ID | None, _ENCOUNTER] = None,
    ) -> types.ClinicalNote:
        return await clinical_writes.add(
            info.context, clinical_writes.NOTE, patient, input, _input_path(info), encounter
        )

    @strawberry.mutation(description=_AMEND.format("a clinical note"), metadata=_ROWS)
    async def amend_note(
        self,
        info: Info[Any, None],
        id: strawberry.ID,
        version: int,
        input: NoteChanges,
        reason: str,
    ) -> types.ClinicalNote:
        return await clinical_writes.amend(
            info.context, clinical_writes.NOTE, id, version, input, reason, _input_path(info)
        )

    @strawberry.mutation(description=_ADD.format("encounter"), metadata=_ROWS)
    async def start_encounter(
        self, info: Info[Any, None], patient: strawberry.ID, input: NewEncounter
    ) -> types.Encounter:
        return await clinical_writes.add(
            info.context, clinical_writes.ENCOUNTER, patient, input, _input_path(info)
        )
