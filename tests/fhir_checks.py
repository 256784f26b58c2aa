"""Checks of what the FHIR facade answers: every body is validated as FHIR R4 by
fhir.resources (its R4B models: R4's resources as amended by 4.3, the same for every element
phigate sends), each Bundle entry as its own resource type too."""

from __future__ import annotations

from typing import Any

import httpx
from fhir.resources.R4B import get_fhir_model_class

from interchange.systems import FHIR_JSON, REDACTED, SECURITY_OBSERVATION


def valid(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    """The response's body, once its status, media type and every resource in it check."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON)
    body: dict[str, Any] = response.json()
    validate(body)
    return body


def validate(resource: dict[str, Any]) -> None:
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    for entry in resource.get("entry", []):
        validate(entry["resource"])


def redacted(resource: dict[str, Any]) -> bool:
    labels = resource.get("meta", {}).get("security", [])
    return {"system": SECURITY_OBSERVATION, "code": REDACTED} in [
        {"system": label["system"], "code": label["code"]} for label in labels
    ]


def refused(response: httpx.Response, status: int, code: str) -> str:
    """An OperationOutcome refusal: its diagnostics."""
    body = valid(response, status)
    assert body["resourceType"] == "OperationOutcome"
    (issue,) = body["issue"]
    assert (issue["severity"], issue["code"]) == ("error", code)
    diagnostics: str = issue["diagnostics"]
    assert response.headers["x-request-id"] in diagnostics
    return diagnostics


def by_type(bundle: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for entry in bundle["entry"]:
        found.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
    return found
