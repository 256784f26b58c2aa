"""Layers run one way, and only the decision point and the guard reach the policy and keys.

Read from the source's import statements (those under `if TYPE_CHECKING:` too: a type is a
dependency as well), so a change that crosses a layer fails here, in the test command.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = ("api", "audit", "bench", "crypto", "interchange", "migrations", "models")
OURS += ("observe", "ops")
OURS += ("permissions",)
OURS += ("resolvers", "schema", "tests")


def _modules() -> Iterator[tuple[str, Path]]:
    for package in OURS:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


IMPORTS = {module: _imports(path) for module, path in _modules()}


def _reaching(prefix: str, targets: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{module} imports {name}"
        for module, names in IMPORTS.items()
        if module == prefix or module.startswith(prefix + ".")
        for name in names
        if any(name == t or name.startswith(t + ".") for t in targets)
    )


RULES = [
    # Anything may count into the metrics: they depend on nothing of ours.
    (
        "observe",
        (
            "api", "audit", "crypto", "interchange", "migrations", "models", "ops", "permissions",
            "resolvers", "schema",
        ),
    ),
    (
        "crypto",
        ("api", "audit", "interchange", "models", "ops", "permissions", "resolvers", "schema"),
    ),
    ("models", ("api", "audit", "interchange", "ops", "permissions", "resolvers", "schema")),
    ("permissions", ("api", "audit", "interchange", "ops", "resolvers", "schema")),
    ("audit", ("api", "interchange", "ops", "resolvers", "schema")),
    ("ops", ("api", "interchange", "resolvers", "schema")),
    # FHIR interchange sits beside the resolvers: it asks the same decision point and never
    # reads the policy tables nor holds a key; HTTP routes (api/) call it, not the reverse.
    (
        "interchange",
        (
            "api", "schema", "permissions.policy", "permissions.scopes", "permissions.reports",
            "permissions.masks", "permissions.deidentify", "crypto.keyring", "crypto.blind_index",
            "crypto.provider", "models.keystore",
        ),
    ),
    # An old migration must read the same whatever the models' enums become.
    ("migrations", ("api", "audit", "interchange", "ops", "permissions", "resolvers", "schema")),
    # Resolvers ask the decision point (permissions.decisions, through the request context);
    # they never read the policy tables nor hold a key.
    (
        "resolvers",
        (
            "permissions.policy", "permissions.scopes", "permissions.reports",
            "permissions.masks", "permissions.deidentify", "crypto.keyring",
            "crypto.blind_index", "crypto.provider", "models.keystore",
        ),
    ),
]  # fmt: skip


@pytest.mark.parametrize(("layer", "forbidden"), RULES, ids=[rule[0] for rule in RULES])
def test_a_layer_imports_nothing_above_it(layer: str, forbidden: tuple[str, ...]) -> None:
    assert _reaching(layer, forbidden) == []


def test_migrations_import_no_enum_of_the_models() -> None:
    """Field classes are fine (they define a column's shape); a live enum is not: a role added
    later would change what an old migration creates."""
    crossing = [
        f"{module} imports {name}"
        for module, names in IMPORTS.items()
        if module.startswith("migrations.")
        for name in names
        if name.startswith("models.")
        and name not in {"models.base", "models.base.SealedField"}
        and not name.startswith("models.base.")
    ]
    assert crossing == []


def _cycle() -> list[str] | None:
    """One import cycle between our modules, if there is one."""
    graph = {
        module: {name for name in names if name in IMPORTS and name != module}
        for module, names in IMPORTS.items()
    }
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        stack.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        stack.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module)):
            return found
    return None


def test_no_module_imports_itself_through_others() -> None:
    assert _cycle() is None


def test_every_imported_package_is_declared() -> None:
    """What the code imports is what pyproject.toml installs: nothing arrives by accident as
    a dependency of a dependency."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {
        _name(requirement)
        for requirement in [
            *project["dependencies"],
            *project["optional-dependencies"]["test"],
        ]
    }
    distributions = packages_distributions()
    ours = set(OURS)
    missing = set()
    for names in IMPORTS.values():
        for name in names:
            top = name.split(".")[0]
            if top in ours or top in _STDLIB or top == "__future__":
                continue
            for distribution in distributions.get(top, [top]):
                if _normal(distribution) not in declared:
                    missing.add(f"{top} ({distribution})")
    assert sorted(missing) == []


def _name(requirement: str) -> str:
    for stop in "<>=!~;[ ":
        requirement = requirement.split(stop)[0]
    return _normal(requirement)


def _normal(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


_STDLIB = frozenset(__import__("sys").stdlib_module_names)
