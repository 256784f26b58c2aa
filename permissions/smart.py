"""SMART App Launch v2 scopes as data: their grammar, and which PHI categories each FHIR
resource type opens, on top of the role policy (as phigate's own scopes do, scopes.py).

A resource scope is `context/Resource.permissions`: context `patient` (confined to the patient
chosen at launch), `user` (the user's own rows) or `system` (a client acting for itself, over
its organization); permissions are v2 letters out of `cruds`, in that order, or the v1 words
`read`, `write`, `*`. The FHIR API is read-only: only `r` and `s` are ever granted, and a scope
asking for `c`, `u` or `d` is refused, naming itself (never silently narrowed: the app would
believe it holds a right it does not).

A resource type's categories are those of the values its FHIR resource carries, except dates:
DATE is one category for every date, birth dates included, so it goes with `Patient` and
`Encounter` only. A `Condition` or `Observation` scope alone opens the code and value, not
their dates, and never the patient's birth date.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from permissions.roles import DEMOGRAPHICS, Category, Role
from permissions.tables import complete


class ScopeError(ValueError):
    """A scope that cannot be granted; the message says why, naming the scope as sent."""


class Context(StrEnum):
    PATIENT = "patient"
    """Confined to the launch patient (`launch/patient`), within the user's rows."""
    USER = "user"
    """What the consenting user's own rows hold."""
    SYSTEM = "system"
    """A client_credentials client acting for itself, over its organization's patients."""


class Resource(StrEnum):
    PATIENT = "Patient"
    ENCOUNTER = "Encounter"
    CONDITION = "Condition"
    OBSERVATION = "Observation"
    DOCUMENT_REFERENCE = "DocumentReference"


RESOURCE_CATEGORIES: Mapping[Resource, frozenset[Category]] = complete(
    "RESOURCE_CATEGORIES",
    {
        # SSN is left out: a FHIR app has no need for it (minimum necessary); `phi.identifiers`
        # is the one scope that opens it.
        Resource.PATIENT: DEMOGRAPHICS | {Category.MRN},
        Resource.ENCOUNTER: frozenset({Category.DATE}),
        Resource.CONDITION: frozenset({Category.DIAGNOSIS}),
        Resource.OBSERVATION: frozenset({Category.LAB}),
        Resource.DOCUMENT_REFERENCE: frozenset({Category.NOTE}),
    },
    Resource,
)


class Permission(StrEnum):
    """SMART v2 permission letters, in the order a scope must list them."""

    CREATE = "c"
    READ = "r"
    UPDATE = "u"
    DELETE = "d"
    SEARCH = "s"


GRANTABLE = frozenset({Permission.READ, Permission.SEARCH})
"""What the read-only FHIR API and GraphQL reads can honour."""
V1_PERMISSIONS: Mapping[str, str] = {"read": "rs", "write": "cud", "*": "cruds"}
"""SMART v1 scope suffixes, as the v2 letters they stand for."""


class LaunchScope(StrEnum):
    LAUNCH_PATIENT = "launch/patient"
    """Standalone launch: the user picks the patient on the consent page; the token response
    names it (`patient`) and `patient/` scopes are confined to it."""
    OPENID = "openid"
    """An OpenID Connect id_token in the token response."""
    FHIR_USER = "fhirUser"
    """With `openid`: the id_token's `fhirUser` claim, the FHIR resource of the user."""
    OFFLINE_ACCESS = "offline_access"
    """A refresh token; phigate issues one with every authorization code grant anyway."""


LAUNCH_SCOPES: frozenset[str] = frozenset(scope.value for scope in LaunchScope)
_RESOURCE_SCOPE = re.compile(r"(patient|user|system)/(\*|[A-Z][A-Za-z]{0,63})\.([a-z*]{1,5})")


@dataclass(frozen=True, slots=True)
class ResourceScope:
    context: Context
    resources: frozenset[Resource]
    """Every resource type for `*`."""
    permissions: frozenset[Permission]

    def categories(self) -> frozenset[Category]:
        opened: frozenset[Category] = frozenset()
        for resource in self.resources:
            opened |= RESOURCE_CATEGORIES[resource]
        return opened


def _permissions(name: str, letters: str) -> frozenset[Permission]:
    letters = V1_PERMISSIONS.get(letters, letters)
    order = "".join(p.value for p in Permission)
    if not letters or "".join(c for c in order if c in letters) != letters:
        raise ScopeError(f"{name}: permissions must be letters of 'cruds' in that order")
    permissions = frozenset(Permission(letter) for letter in letters)
    if not permissions <= GRANTABLE:
        raise ScopeError(f"{name}: only r (read) and s (search) are granted; access is read-only")
    return permissions


def resource_scope(name: str) -> ResourceScope | None:
    """The parsed SMART resource scope; None if `name` does not have that shape at all.
    ScopeError for one that has it but cannot be granted."""
    if "?" in name:
        raise ScopeError(f"{name}: scopes with search parameters are not supported")
    match = _RESOURCE_SCOPE.fullmatch(name)
    if match is None:
        return None
    context, resource, letters = match.groups()
    if resource == "*":
        resources = frozenset(Resource)
    elif resource in Resource.__members__.values():
        resources = frozenset({Resource(resource)})
    else:
        raise ScopeError(f"{name}: no {resource} resources are held here")
    return ResourceScope(Context(context), resources, _permissions(name, letters))


def is_smart(name: str) -> bool:
    """Whether a scope name is a SMART one (valid or not), rather than a phigate scope."""
    return name in LAUNCH_SCOPES or "/" in name


def check(name: str) -> None:
    """ScopeError unless `name` is a SMART scope that can be granted."""
    if name not in LAUNCH_SCOPES and resource_scope(name) is None:
        raise ScopeError(f"{name}: not a SMART scope")


@lru_cache(maxsize=1024)
def _granted(name: str) -> ResourceScope | None:
    # Every request of a SMART token asks for its scopes' meaning several times: parsed once
    # per process (a few scope strings): 60 us down to 4 per request, as for phigate scopes.
    try:
        return resource_scope(name)
    except ScopeError:
        return None


def resource_scopes(names: Iterable[str]) -> list[ResourceScope]:
    """The grantable SMART resource scopes among `names`; anything else is skipped (a stored
    scope was checked when granted, and an unknown one opens nothing)."""
    return [scope for scope in map(_granted, names) if scope is not None]


def smart_categories(names: Iterable[str], person: bool) -> frozenset[Category]:
    """The categories the SMART resource scopes open for a token acting for a user (`person`,
    patient/ and user/ scopes) or for a client itself (system/ scopes)."""
    contexts = {Context.PATIENT, Context.USER} if person else {Context.SYSTEM}
    opened: frozenset[Category] = frozenset()
    for scope in resource_scopes(names):
        if scope.context in contexts:
            opened |= scope.categories()
    return opened


def confined_to_launch(names: Iterable[str]) -> bool:
    """A token holding any patient/ scope sees the launch patient and no one else: its rows
    are narrowed to that one patient for every scope it holds."""
    return any(scope.context is Context.PATIENT for scope in resource_scopes(names))


def reads_rows(names: Iterable[str]) -> bool:
    """Whether the SMART scopes among `names` read patients at all."""
    return bool(resource_scopes(names))


def request_error(names: Iterable[str], person: bool) -> str | None:
    """Why a token request with these scopes cannot be granted, for one acting for a user
    (`person`: authorization code) or for a client itself; None if it can."""
    names = list(names)
    parsed = resource_scopes(names)
    contexts = {scope.context for scope in parsed}
    if person and Context.SYSTEM in contexts:
        return "system/ scopes are for a client acting for itself (client_credentials)"
    if not person and contexts - {Context.SYSTEM}:
        return "patient/ and user/ scopes need a user's consent (authorization_code)"
    if not person and LAUNCH_SCOPES.intersection(names):
        return "launch and OpenID scopes need a user's consent (authorization_code)"
    if Context.PATIENT in contexts and LaunchScope.LAUNCH_PATIENT.value not in names:
        return "patient/ scopes need launch/patient: the patient they are confined to"
    if LaunchScope.FHIR_USER.value in names and LaunchScope.OPENID.value not in names:
        return "fhirUser needs openid"
    return None


def supported_scopes() -> list[str]:
    """Every SMART scope a client may be registered for, v2 form, for discovery."""
    resources = [resource.value for resource in Resource]
    return [
        *(scope.value for scope in LaunchScope),
        *(f"{context.value}/{resource}.rs" for context in Context for resource in resources),
    ]


class FhirUser(StrEnum):
    """The FHIR resource types an id_token's `fhirUser` claim names a user by."""

    PATIENT = "Patient"
    """A patient's own record; a patient account without one (a proxy) is a RelatedPerson."""
    RELATED_PERSON = "RelatedPerson"
    PRACTITIONER = "Practitioner"
    PERSON = "Person"
    """Staff who give no care (front desk, billing, research, audit, administration)."""


FHIR_USER: Mapping[Role, FhirUser] = complete(
    "FHIR_USER",
    {
        Role.PHYSICIAN: FhirUser.PRACTITIONER,
        Role.NURSE: FhirUser.PRACTITIONER,
        Role.FRONT_DESK: FhirUser.PERSON,
        Role.BILLING: FhirUser.PERSON,
        Role.PATIENT: FhirUser.PATIENT,
        Role.RESEARCHER: FhirUser.PERSON,
        Role.AUDITOR: FhirUser.PERSON,
        Role.ADMIN: FhirUser.PERSON,
    },
    Role,
)


def covers(registered: Iterable[str], requested: str) -> bool:
    """Whether a SMART scope asked for is within one a client is registered for: the same
    context, and no resource type or permission more (`patient/Observation.r` is within
    `patient/*.rs`)."""
    try:
        asked = resource_scope(requested)
    except ScopeError:
        return False
    if asked is None:
        return False
    return any(
        held.context is asked.context
        and asked.resources <= held.resources
        and asked.permissions <= held.permissions
        for held in resource_scopes(registered)
    )
