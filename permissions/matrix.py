"""Renders the policy tables as Markdown for the docs (docs/policy.md), so they cannot drift."""

from __future__ import annotations

from collections.abc import Iterable

from permissions.policy import (
    CAPABILITIES,
    COLUMNS,
    EXPORT_BUDGET,
    POLICY,
    PROXY_CATEGORIES,
    ROW_SCOPE,
    WRITE_POLICY,
    CapabilityRule,
)
from permissions.roles import Category, Decision, Role
from permissions.scopes import SCOPE_CATEGORIES
from permissions.smart import FHIR_USER, RESOURCE_CATEGORIES

_SYMBOL = {Decision.ALLOW: "full", Decision.MASK: "masked", Decision.DENY: "-"}


Overrides = Iterable[tuple[str, Category, dict[Role, Decision]]]
"""(field coordinate, its category, the roles whose decision differs from the column)."""


def policy_markdown(overrides: Overrides, write_overrides: Overrides = ()) -> str:
    header = ["role", "patients visible", *(c.value for c in COLUMNS)]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for role, row in POLICY.items():
        cells = [f"`{role.value}`", ROW_SCOPE[role].value, *(_SYMBOL[row[c]] for c in COLUMNS)]
        lines.append("| " + " | ".join(cells) + " |")
    field_lines = _override_lines(overrides, _SYMBOL)
    if field_lines:
        lines += ["", "Per-field overrides (`@phi(allow: ..., mask: ...)`):", ""]
        lines += ["| field | category | override |", "|---|---|---|", *field_lines]
    return "\n".join(lines) + "\n\n" + write_markdown(write_overrides)


_WRITE_SYMBOL = {Decision.ALLOW: "write", Decision.DENY: "-"}


def write_markdown(overrides: Overrides) -> str:
    """Who may set or change each category, and the fields whose writers differ."""
    header = ["role", *(c.value for c in COLUMNS)]
    lines = [
        "Writes (who may set or change a value; an OAuth2 token writes nothing):",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for role, row in WRITE_POLICY.items():
        cells = [f"`{role.value}`", *(_WRITE_SYMBOL[row[c]] for c in COLUMNS)]
        lines.append("| " + " | ".join(cells) + " |")
    field_lines = _override_lines(overrides, _WRITE_SYMBOL)
    if field_lines:
        lines += ["", "Per-field write overrides (`@phi(write: ...)`):", ""]
        lines += ["| field | category | override |", "|---|---|---|", *field_lines]
    return "\n".join(lines) + "\n"


def _override_lines(overrides: Overrides, symbol: dict[Decision, str]) -> list[str]:
    return [
        f"| `{field}` | {category.value} | "
        + ", ".join(f"{role.value}: {symbol[decision]}" for role, decision in changes.items())
        + " |"
        for field, category, changes in overrides
        if changes
    ]


def _table(header: list[str], rows: Iterable[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _categories(categories: Iterable[Category]) -> str:
    chosen = set(categories)
    return ", ".join(c.value for c in COLUMNS if c in chosen) or "none"


def export_budget_markdown() -> str:
    return _table(
        ["role", "patients per hour"],
        ([f"`{role.value}`", str(budget)] for role, budget in EXPORT_BUDGET.items()),
    )


def proxy_scopes_markdown() -> str:
    return _table(
        ["proxy grant scope", "categories the proxy reads"],
        ([f"`{scope.value}`", _categories(cats)] for scope, cats in PROXY_CATEGORIES.items()),
    )


def oauth_scopes_markdown() -> str:
    return _table(
        ["OAuth2 scope", "PHI categories it opens"],
        ([f"`{scope.value}`", _categories(cats)] for scope, cats in SCOPE_CATEGORIES.items()),
    )


def smart_resources_markdown() -> str:
    return _table(
        ["FHIR resource type", "PHI categories its SMART scopes open"],
        (
            [f"`{resource.value}`", _categories(cats)]
            for resource, cats in RESOURCE_CATEGORIES.items()
        ),
    )


def fhir_user_markdown() -> str:
    return _table(
        ["role", "id_token `fhirUser`"],
        ([f"`{role.value}`", f"`{kind.value}`"] for role, kind in FHIR_USER.items()),
    )


def capabilities_markdown() -> str:
    def who(rule: CapabilityRule) -> str:
        roles = ", ".join(f"`{role.value}`" for role in Role if role in rule.roles)
        return roles + (" (signed in; not an OAuth2 app acting for them)" * rule.people_only)

    return _table(
        ["capability", "who"],
        ([capability.name, who(rule)] for capability, rule in CAPABILITIES.items()),
    )
