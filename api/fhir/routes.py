"""The `/fhir` routes: metadata, Patient read, `Patient/{id}/$everything` (a patient's whole
record, for the right of access), and search by patient of Condition, Observation, Encounter
and DocumentReference. Authenticated like `/graphql` (a session or an OAuth2 bearer token);
every record read goes through reading.py, so nothing here decides access."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.auth import Authenticator, AuthRejected, challenge
from api.fhir.capability import SEARCHES, capability_statement
from api.fhir.reading import read_record
from api.fhir.responses import FhirRefusal, fhir_json, outcome
from interchange import outbound
from interchange.record import EVERYTHING, Part
from interchange.systems import LOINC
from permissions.principal import Principal
from schema.build import PhigateSchema

_PARTS: Mapping[str, Part] = MappingProxyType(
    {
        "Condition": Part.DIAGNOSES,
        "Observation": Part.OBSERVATIONS,
        "Encounter": Part.ENCOUNTERS,
        "DocumentReference": Part.NOTES,
    }
)
_JSON_FORMATS = frozenset({"json", "application/json", "application/fhir+json"})
Handler = Callable[[Request], Awaitable[Response]]


class FhirRoutes:
    def __init__(self, schema: PhigateSchema, authenticate: Authenticator) -> None:
        self._schema = schema
        self._authenticate = authenticate

    def routes(self) -> list[Route]:
        searches = [
            Route(f"/fhir/{name}", _answered(self._searcher(name)), methods=["GET"])
            for name in SEARCHES
        ]
        return [
            Route("/fhir/metadata", _answered(self.metadata), methods=["GET"]),
            Route("/fhir/Patient/{id}/$everything", _answered(self.everything), methods=["GET"]),
            Route("/fhir/Patient/{id}", _answered(self.patient), methods=["GET"]),
            *searches,
            Route("/fhir/{rest:path}", _answered(_unsupported), methods=["GET"]),
        ]

    async def metadata(self, request: Request) -> Response:
        _parameters(request, frozenset())
        return fhir_json(capability_statement(_base(request)))

    async def patient(self, request: Request) -> Response:
        _parameters(request, frozenset())
        record = await self._read(request, request.path_params["id"], {Part.PATIENT})
        return fhir_json(outbound.patient(record))

    async def everything(self, request: Request) -> Response:
        """The patient's whole record as one searchset Bundle: what a patient (or their proxy,
        within the grant) downloads for the right of access, and staff produce for a patient
        in their rows, each with their own decisions applied."""
        _parameters(request, frozenset())
        record = await self._read(request, request.path_params["id"], EVERYTHING)
        found, withheld = outbound.resources(record, EVERYTHING)
        return fhir_json(outbound.bundle(found, _base(request), withheld))

    def _searcher(self, name: str) -> Handler:
        part = _PARTS[name]
        allowed = frozenset(param["name"] for param in SEARCHES[name])

        async def search(request: Request) -> Response:
            params = _parameters(request, allowed)
            patient = params.get("patient")
            if patient is None:
                raise FhirRefusal(400, "required", "Search by patient: ?patient=<id> is required")
            record = await self._read(request, patient.removeprefix("Patient/"), {part})
            found, withheld = outbound.resources(record, {part})
            if withheld:
                raise FhirRefusal(403, "forbidden", f"Not permitted to read {name} resources")
            if "code" in params:
                found = [r for r in found if _coded(r, params["code"])]
            return fhir_json(outbound.bundle(found, _base(request)))

        return search

    async def _read(self, request: Request, fhir_id: str, parts: Iterable[Part]) -> dict[str, Any]:
        principal = await self._principal(request)
        return await read_record(
            self._schema, request, principal, outbound.public_id(fhir_id), parts
        )

    async def _principal(self, request: Request) -> Principal:
        try:
            principal = await self._authenticate(request)
        except AuthRejected as exc:
            raise _unauthenticated(exc.status, exc.reason) from None
        if principal is None:
            raise _unauthenticated(401, "missing_credentials")
        keyring = getattr(request.app.state, "keyring", None)
        if keyring is not None and keyring.suspended:
            raise FhirRefusal(503, "transient", "Keys unavailable: no data is returned")
        request.state.principal = principal
        return principal


def _unauthenticated(status: int, reason: str) -> FhirRefusal:
    if status == 401:
        return FhirRefusal(401, "login", "Authentication required", challenge(reason))
    return FhirRefusal(status, "forbidden", "Not permitted from here")


def _answered(handler: Handler) -> Handler:
    async def answer(request: Request) -> Response:
        try:
            return await handler(request)
        except FhirRefusal as refusal:
            return outcome(request, refusal)

    return answer


async def _unsupported(_: Request) -> Response:
    raise FhirRefusal(404, "not-supported", "Unsupported resource type or operation")


def _parameters(request: Request, allowed: frozenset[str]) -> dict[str, str]:
    """The request's search parameters, each at most once; `_format` must name JSON. A
    refusal names the rule, never a value sent (a search value may be PHI)."""
    found: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name == "_format":
            if value not in _JSON_FORMATS:
                raise FhirRefusal(406, "not-supported", "Only FHIR JSON is served")
            continue
        if name not in allowed:
            supported = ", ".join(sorted(allowed)) or "none"
            raise FhirRefusal(
                400, "not-supported", f"Unsupported parameter; supported: {supported}"
            )
        if name in found or not value:
            raise FhirRefusal(400, "invalid", f"Parameter {name} must be given once, not empty")
        found[name] = value
    return found


def _coded(resource: dict[str, Any], wanted: str) -> bool:
    """Whether an Observation has one of the comma-separated LOINC codes (`code` or
    `system|code`). A code the caller was not given matches nothing."""
    codes = {coding.get("code") for coding in resource.get("code", {}).get("coding", [])}
    for token in wanted.split(","):
        system, bar, code = token.rpartition("|")
        if (not bar or system in ("", LOINC)) and code in codes:
            return True
    return False


def _base(request: Request) -> str:
    return f"{str(request.base_url).rstrip('/')}/fhir"
