"""FHIR JSON answers, and OperationOutcomes for every refusal: a fixed message per refusal,
never a stack trace, a submitted value or a stored one."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from interchange.systems import FHIR_JSON


class FhirRefusal(Exception):
    """A request the facade answers with an OperationOutcome."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        """The issue type (http://hl7.org/fhir/issue-type): not-found, forbidden, invalid..."""
        self.message = message
        self.headers = headers


def not_found() -> FhirRefusal:
    """A patient outside the caller's rows is answered exactly like one that does not exist."""
    return FhirRefusal(404, "not-found", "Not found")


def fhir_json(body: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON)


def outcome(request: Request, refusal: FhirRefusal) -> JSONResponse:
    issue = {
        "severity": "error",
        "code": refusal.code,
        "diagnostics": f"{refusal.message} (request {request.state.request_id})",
    }
    response = fhir_json({"resourceType": "OperationOutcome", "issue": [issue]}, refusal.status)
    response.headers.update(refusal.headers or {})
    return response
