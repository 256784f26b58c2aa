"""Reading FHIR R4 input: JSON Bundles (transaction, batch, collection, document) and Bulk
Data NDJSON, entry by entry, and validating the resources phigate imports with fhir.resources.

fhir.resources 8 has no R4 package: its root is R5, and R4B (4.3) is the release R4 data
validates against, unchanged for the resources imported here (Patient, Encounter, Condition,
Observation, DocumentReference, DiagnosticReport).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

BUNDLE_TYPES = frozenset({"transaction", "batch", "collection", "document"})
"""What a Bundle may be to be read: a record set (a `searchset` or `history` is not one)."""
SUFFIXES = (".json", ".ndjson")


@dataclass(frozen=True, slots=True)
class Problem:
    """Why one entry (or a whole file) was not imported: names where, never a value."""

    file: str
    where: str
    """`entry 3` (a Bundle's entry index), `line 7` (NDJSON) or `file`."""
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Entry:
    file: str
    where: str
    resource: dict[str, Any]
    full_url: str | None = None

    @property
    def type(self) -> str:
        return str(self.resource.get("resourceType"))

    def problem(self, reason: str) -> Problem:
        return Problem(self.file, self.where, reason)


class Unreadable(Exception):
    """A file or entry that is not FHIR input; the message is the problem's reason."""


def files(paths: Iterable[Path]) -> list[Path]:
    """The files named, and the .json / .ndjson files under the folders named, in order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
        else:
            found.append(path)
    return found


def _resource(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
        raise Unreadable("not a FHIR resource (no resourceType)")
    return value


def _bundle(name: str, document: Any) -> Iterator[Entry]:
    resource = _resource(document)
    if resource["resourceType"] != "Bundle":
        raise Unreadable(f"resourceType is {resource['resourceType']!r}, not a Bundle")
    kind = resource.get("type")
    if kind not in BUNDLE_TYPES:
        raise Unreadable(f"Bundle.type must be one of {', '.join(sorted(BUNDLE_TYPES))}")
    entries = resource.get("entry", [])
    if not isinstance(entries, list):
        raise Unreadable("Bundle.entry is not a list")
    for index, item in enumerate(entries):
        where = f"entry {index}"
        if not isinstance(item, dict):
            raise Unreadable(f"{where}: not an object")
        try:
            yield Entry(name, where, _resource(item.get("resource")), item.get("fullUrl"))
        except Unreadable as exc:
            raise Unreadable(f"{where}: {exc}") from None


def read(path: Path) -> tuple[list[Entry], list[Problem]]:
    """A file's entries, or the problem that makes it unreadable as a whole (a Bundle) or
    per line (NDJSON: each line stands alone)."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [Problem(name, "file", f"cannot be read ({type(exc).__name__})")]
    if path.suffix == ".ndjson":
        return _lines(name, text.splitlines())
    try:
        return list(_bundle(name, json.loads(text))), []
    except json.JSONDecodeError as exc:
        return [], [Problem(name, "file", f"not JSON (line {exc.lineno}, column {exc.colno})")]
    except Unreadable as exc:
        return [], [Problem(name, "file", str(exc))]


def _lines(name: str, lines: Sequence[str]) -> tuple[list[Entry], list[Problem]]:
    entries, problems = [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            entries.append(Entry(name, where, _resource(json.loads(line))))
        except json.JSONDecodeError:
            problems.append(Problem(name, where, "not JSON"))
        except Unreadable as exc:
            problems.append(Problem(name, where, str(exc)))
    return entries, problems


def invalid(resource: dict[str, Any]) -> str | None:
    """Why a resource is not valid FHIR R4 (its first error: element path and rule), or None.
    A validation message is left out if it would quote the value."""
    try:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        path = ".".join([resource["resourceType"], *(str(part) for part in error["loc"])])
        value = error.get("input")
        message = str(error["msg"])
        if isinstance(value, str | int | float) and str(value) and str(value) in message:
            message = error["type"]
        return f"{path}: not valid FHIR R4 ({message})"
    return None


class References:
    """Where references inside one import run lead: `urn:uuid:...` (a fullUrl),
    `Patient/123`, or a conditional `Patient?identifier=system|value`."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self._found: dict[str, Entry] = {}
        for entry in entries:
            resource = entry.resource
            if entry.full_url:
                self._found[entry.full_url] = entry
            if isinstance(resource.get("id"), str):
                self._found[f"{entry.type}/{resource['id']}"] = entry
            for identifier in resource.get("identifier") or []:
                if isinstance(identifier, dict) and identifier.get("value"):
                    key = f"{identifier.get('system', '')}|{identifier['value']}"
                    self._found[f"{entry.type}?identifier={key}"] = entry

    def resolve(self, reference: str) -> Entry | None:
        found = self._found.get(reference)
        if found is None and "/" in reference and not reference.startswith("urn:"):
            # An absolute reference (https://host/fhir/Patient/123) to a resource read here.
            found = self._found.get("/".join(reference.rsplit("/", 2)[-2:]))
        return found


def source_key(entry: Entry) -> str | None:
    """What identifies the source resource across runs: `Type/id`, else its fullUrl."""
    resource_id = entry.resource.get("id")
    if isinstance(resource_id, str) and resource_id:
        return f"{entry.type}/{resource_id}"
    return entry.full_url
