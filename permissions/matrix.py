"""Renders the policy as Markdown for the README, so the documented matrix cannot drift."""

from __future__ import annotations

from collections.abc import Iterable

from permissions.policy import COLUMNS, POLICY, ROW_SCOPE
from permissions.roles import Category, Decision, Role

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
