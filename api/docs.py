"""The generated tables of docs/: each lives between `<!-- name:start -->` and
`<!-- name:end -->` and is rewritten from the policy by `phigate docs`; a test checks them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType

from permissions.matrix import (
    capabilities_markdown,
    export_budget_markdown,
    fhir_user_markdown,
    oauth_scopes_markdown,
    policy_markdown,
    proxy_scopes_markdown,
    smart_resources_markdown,
)
from permissions.reports import report_policy_markdown
from schema.build import build_schema
from schema.inventory import phi_fields


def policy_document() -> str:
    fields = phi_fields(build_schema())
    overrides = [(f.coordinate, f.category, f.overrides) for f in fields]
    writes = [(f.coordinate, f.category, f.write_overrides) for f in fields]
    return policy_markdown(overrides, writes)


TABLES: Mapping[str, Callable[[], str]] = MappingProxyType(
    {
        "policy": policy_document,
        "proxy-scopes": proxy_scopes_markdown,
        "capabilities": capabilities_markdown,
        "export-budget": export_budget_markdown,
        "report-policy": report_policy_markdown,
        "oauth-scopes": oauth_scopes_markdown,
        "smart-resources": smart_resources_markdown,
        "fhir-user": fhir_user_markdown,
    }
)


def rendered(text: str) -> str:
    """`text` with every generated table in it rewritten."""
    for name, table in TABLES.items():
        start, end = f"<!-- {name}:start -->\n", f"<!-- {name}:end -->"
        if start in text:
            before, rest = text.split(start, 1)
            text = before + start + table() + end + rest.split(end, 1)[1]
    return text


def stale(folder: Path) -> list[Path]:
    """The documents in `folder` whose generated tables differ from the policy."""
    return [
        path
        for path in sorted(folder.glob("*.md"))
        if rendered(path.read_text()) != path.read_text()
    ]


def write(folder: Path) -> list[Path]:
    changed = stale(folder)
    for path in changed:
        path.write_text(rendered(path.read_text()))
    return changed
