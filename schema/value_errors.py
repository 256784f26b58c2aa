"""graphql-core's verdicts on a request's values quote the value: "String cannot represent a non
string value: 3125550188", "... found: {'ssn': '321-54-9876'}". A submitted value may be PHI,
and an error may be logged or shown, so each such verdict is rewritten to name the place (the
variable, the input path, the location in the document) and the expected type, never the value.

Applied where phigate receives graphql-core's errors: validation (schema/documents.py) and the
coercion of variables (schema/execution.py). Messages that quote no value pass unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from graphql import GraphQLError

_VARIABLE = re.compile(r"^(Variable '\$\w+' has invalid value(?: at [^:]*)?: )(.*)$", re.DOTALL)
_VALUE_FREE: tuple[tuple[re.Pattern[str], str], ...] = (
    # Scalars and enums: "<Type> cannot represent [a non string] value: <value>".
    (re.compile(r"^((?:Enum '\w+'|\w+) cannot represent [^:]*?value)\b.*$", re.DOTALL), r"\1."),
    (
        re.compile(r"^Value .* does not exist in ('\w+' enum)\.(.*)$", re.DOTALL),
        r"Not a value of \1.\2",
    ),
    # Input objects and the rest: "Expected value of type 'T'[ what][. Did you mean X?], found:
    # <value>." (or "Found:" after a suggestion, or ", but encountered error '<error>'; found").
    (
        re.compile(
            r"^(Expected value of type '[^']*'.*?)"
            r"(?:, but encountered error .*?)?,? [Ff]ound:? .*$",
            re.DOTALL,
        ),
        r"\1",
    ),
)
_REDACTED = "Invalid value (not shown: it may hold PHI)."
_SHORTEST_QUOTED = 3
"""Submitted values shorter than this are not searched for in messages: "1" is in every path."""


def _value_free(message: str) -> str:
    for pattern, replacement in _VALUE_FREE:
        if pattern.match(message):
            kept = pattern.sub(replacement, message)
            return kept if kept.endswith((".", "?")) else kept + "."
    return message


def _leaves(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    elif value is not None and not isinstance(value, bool):
        text = str(value)
        if len(text) >= _SHORTEST_QUOTED:
            yield text


def rewritten(error: GraphQLError, submitted: Mapping[str, Any] | None = None) -> GraphQLError:
    """`error` without any value it quoted. `submitted`: the request's variables; a message
    still holding one of their values after the rewrite is replaced whole (fail closed)."""
    message = error.message
    variable = _VARIABLE.match(message)
    if variable is not None:
        message = variable.group(1) + _value_free(variable.group(2))
    else:
        message = _value_free(message)
    # Suggestions ("Did you mean 'ZIP3'?", development only) name the schema's own values.
    quoting = message.split(" Did you mean ", 1)[0]
    if submitted and any(leaf in quoting for leaf in _leaves(submitted)):
        message = (variable.group(1) if variable else "") + _REDACTED
    if message == error.message:
        return error
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=error.extensions,
    )


def all_rewritten(
    errors: Sequence[GraphQLError], submitted: Mapping[str, Any] | None = None
) -> list[GraphQLError]:
    return [rewritten(error, submitted) for error in errors]
