"""Registering trusted documents: each file one GraphQL document of named operations, or an
Apollo persisted-query manifest (each operation's `body` one document); each valid against the
schema as served, stored by the SHA-256 of its exact text."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from graphql import GraphQLError, OperationDefinitionNode, parse, validate

from api.trusted_documents import sha256_of
from models import TrustedDocument
from schema.build import PhigateSchema

APOLLO_MANIFEST = "apollo-persisted-query-manifest"
MAX_OPERATION_NAMES = 1000
"""Length of the stored list of names (the column's)."""


class DocumentError(Exception):
    """A file that cannot be registered; the message says why (it quotes the operator's own
    file, never a request)."""


@dataclass(frozen=True, slots=True)
class Registered:
    sha256: str
    operations: tuple[str, ...]
    new: bool


def documents_in(text: str, manifest: bool) -> list[str]:
    """The documents of one file: itself, or the bodies of an Apollo manifest's operations
    (`@apollo/generate-persisted-query-manifest`: each `id` is the SHA-256 of its `body`)."""
    if not manifest:
        return [text]
    try:
        data = json.loads(text)
        if data["format"] != APOLLO_MANIFEST:
            raise ValueError(data["format"])
        bodies = [operation["body"] for operation in data["operations"]]
    except (ValueError, KeyError, TypeError):
        raise DocumentError(f"is not an {APOLLO_MANIFEST} (JSON)") from None
    if not all(isinstance(body, str) for body in bodies):
        raise DocumentError("holds an operation whose body is not text")
    return bodies


def operation_names(schema: PhigateSchema, text: str) -> tuple[str, ...]:
    """The document's operation names; DocumentError if it does not parse or validate, or
    holds an operation without a name (a client asks for one by name)."""
    try:
        document = parse(text)
    except GraphQLError as exc:
        raise DocumentError(f"does not parse: {exc.message}") from None
    errors = validate(schema._schema, document)
    if errors:
        raise DocumentError(f"not valid against the schema: {errors[0].message}")
    names = []
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            if definition.name is None:
                raise DocumentError("every operation needs a name")
            names.append(definition.name.value)
    if not names:
        raise DocumentError("holds no operation")
    if len(" ".join(names)) > MAX_OPERATION_NAMES:
        raise DocumentError("too many operation names for one document")
    return tuple(names)


async def register(schema: PhigateSchema, text: str, now: datetime) -> Registered:
    """Registering the same text twice is a no-op: it is the same document."""
    names = operation_names(schema, text)
    digest = sha256_of(text)
    _, created = await TrustedDocument.get_or_create(
        sha256=digest,
        defaults={"body": text, "operations": " ".join(names), "registered_at": now},
    )
    return Registered(digest, names, created)


async def registered() -> list[TrustedDocument]:
    return await TrustedDocument.all().order_by("registered_at", "id")
