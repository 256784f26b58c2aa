"""A schemathesis check for phigate: no server fault, however the query looks.

Schemathesis' own GraphQL check treats every `errors` entry as a resolver failure; phigate
answers expected outcomes (NOT_FOUND, FORBIDDEN, BAD_USER_INPUT...) as coded errors by design.
A fault is a 5xx, or an error the server had to mask ("Internal error").
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis


@schemathesis.check
def phigate_no_fault(ctx: Any, response: Any, case: Any) -> None:
    if response.status_code >= 500:
        raise AssertionError(f"HTTP {response.status_code}")
    body = json.loads(response.content)
    for error in body.get("errors") or []:
        if error.get("message") == "Internal error":
            raise AssertionError("masked internal error")
