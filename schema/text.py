"""String literals in a document must be text every layer below can hold.

The GraphQL lexer already refuses a lone surrogate escape (`"\\ud800"`), but it accepts
`"\\u0000"`, and PostgreSQL text cannot hold NUL: as a search or a written value it failed in
the driver. Values sent as variables are checked with the request body (api/decoding.py); this
rule checks the document's own literals, once per document (schema/documents.py caches it).
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError, StringValueNode, ValidationRule


def _valid(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class TextLiteralRule(ValidationRule):
    def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
        if not _valid(node.value):
            self.report_error(
                GraphQLError(
                    "String values must not hold NUL or unpaired surrogates",
                    node,
                    extensions={"code": "BAD_USER_INPUT"},
                )
            )
