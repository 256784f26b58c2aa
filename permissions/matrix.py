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
    CapabilityRule,
)
from permissions.roles import Category, Decision, Role
from permissions.scopes import SCOPE_CATEGORIES

_SYMBOL = {Decision.ALLOW: "full", Decision.MASK: "masked", Decision.DENY: "-"}


def policy_markdown(overrides: Iterable[tuple[str, Category, dict[Role, Decision]]]) -> str:
    header = ["role", "patients visible", *(c.value for c in COLUMNS)]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for role, row in POLICY.items():
        cells = [f"`{role.value}`", ROW_SCOPE[role].value, *(_SYMBOL[row[c]] for c in COLUMNS)]
        lines.append("| " + " | ".join(cells) + " |")
    field_lines = [
        f"| `{field}` | {category.value} | "
        + ", ".join(f"{role.value}: {_SYMBOL[decision]}" for role, decision in changes.items())
        + " |"
        for field, category, changes in overrides
        if changes
    ]
    if field_lines:
        lines += ["", "Per-field overrides (`@phi(allow: ..., mask: ...)`):", ""]
        lines += ["| field | category | override |", "|---|---|---|", *field_lines]
    return "\n".join(lines) + "\n"


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


def capabilities_markdown() -> str:
    def who(rule: CapabilityRule) -> str:
        roles = ", ".join(f"`{role.value}`" for role in Role if role in rule.roles)
        return roles + (" (signed in; not an OAuth2 app acting for them)" * rule.people_only)

    return _table(
        ["capability", "who"],
        ([capability.name, who(rule)] for capability, rule in CAPABILITIES.items()),
    )
