"""Each distinct query text is parsed and validated once per schema, under phigate's limits.

Clients send the same few documents again and again. One extension does what four of
strawberry's would (`MaxTokensLimiter`, `ParserCache`, `AddValidationRules`, `ValidationCache`):
strawberry builds every extension's hooks anew for each request, and its validation cache is
keyed by the parsed document, whose hash walks the whole syntax tree on every request. Here
one cache, keyed by the query text, holds the document and its validation errors together.

A text that does not parse is not cached: strawberry parses it again, under the same token
limit, and reports the error as usual.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import suppress
from functools import lru_cache

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, parse, validate
from graphql.validation import specified_rules
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from schema.value_errors import all_rewritten

Prepared = tuple[DocumentNode, list[GraphQLError]]
"""A document and its validation errors (none if it is valid)."""


class Documents:
    """The cache of one schema. Its rules are strawberry's defaults plus `rules`.
    `hide_suggestions` keeps every "did you mean" out of validation errors (unknown fields,
    arguments, types, enum values, input fields): each one names a part of the schema."""

    def __init__(
        self,
        max_tokens: int,
        rules: Sequence[type[ASTValidationRule]],
        maxsize: int = 128,
        *,
        hide_suggestions: bool = True,
    ) -> None:
        # Bounded for memory: a document at the 2,000-token limit keeps about 0.8 MiB of syntax
        # tree, so an authenticated client sending distinct documents can hold ~100 MiB of a
        # worker, no more. Clients send a few documents each, and they stay cached.
        self.max_tokens = max_tokens
        # strawberry's validate_document adds its two rules, but cannot hide suggestions.
        self.rules = (
            *specified_rules, *rules, MaybeNullValidationRule, OneOfInputValidationRule,
        )  # fmt: skip
        self.hide_suggestions = hide_suggestions
        self.prepared = lru_cache(maxsize=maxsize)(self._prepare)

    def _prepare(self, schema: GraphQLSchema, query: str) -> Prepared:
        document = parse(query, max_tokens=self.max_tokens)
        errors = validate(schema, document, self.rules, hide_suggestions=self.hide_suggestions)
        # A literal in the document may be PHI: its verdict names where it is, not what it is.
        return document, all_rewritten(errors)

    def extension(self) -> PreparedDocuments:
        return PreparedDocuments(self)


class PreparedDocuments(SchemaExtension):
    def __init__(self, documents: Documents) -> None:
        self.documents = documents
        self._errors: list[GraphQLError] | None = None

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        context.parse_options["max_tokens"] = self.documents.max_tokens
        query = context.query
        if query is not None:
            # A text that will not parse: strawberry parses it again and reports the error.
            with suppress(GraphQLError):
                context.graphql_document, self._errors = self.documents.prepared(
                    context.schema._schema, query
                )
        yield

    def on_validate(self) -> Iterator[None]:
        if self._errors is not None:
            # A copy: the cached list is every later request's too.
            self.execution_context.pre_execution_errors = list(self._errors)
        yield
