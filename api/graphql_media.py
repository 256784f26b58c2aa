"""GraphQL over HTTP: the media type of an answer and its status code.

A client that accepts `application/graphql-response+json` gets it, with the draft spec's status
codes: a request error (the document did not parse or validate, or was refused before running:
no `data` in the answer) is a 400, a response with data (partial too, with field errors) a 200.
Other clients get `application/json`, where every GraphQL response is a 200, as stock clients
still expect. A client accepting neither is refused (406).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
_ANY = frozenset({"*/*", "application/*"})


def negotiate(accept: str | None) -> str | None:
    """The answer's media type, or None when the client accepts none phigate sends. No
    `Accept` header means `application/json` (the spec's rule for legacy clients)."""
    if not accept:
        return JSON
    offered = {}
    for entry in accept.split(","):
        media, *params = entry.split(";")
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        offered[media.strip().lower()] = quality
    graphql, json = offered.get(GRAPHQL_RESPONSE, 0.0), offered.get(JSON, 0.0)
    wildcard = max((q for media, q in offered.items() if media in _ANY), default=0.0)
    if graphql > 0 and graphql >= json:
        return GRAPHQL_RESPONSE
    if json > 0 or wildcard > 0:
        return JSON
    return None


def is_request_error(response: Mapping[str, Any]) -> bool:
    """No data, and no error at a field: nothing was executed. (A field's error has a path.)"""
    errors = response.get("errors") or []
    return (
        response.get("data") is None
        and bool(errors)
        and all(isinstance(e, dict) and not e.get("path") for e in errors)
    )


def status_of(media: str, response: Mapping[str, Any]) -> int:
    return 400 if media == GRAPHQL_RESPONSE and "data" not in response else 200
