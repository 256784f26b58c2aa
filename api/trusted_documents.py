"""Trusted documents: a request names a registered document by its hash instead of sending
its text, and with `PHIGATE_TRUSTED_DOCUMENTS=required` nothing else runs.

Two conventions stock clients already speak are read: Apollo's persisted-query extension
(`"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "<hex>"}}`) and the
GraphQL-over-HTTP draft's `documentId` (`"sha256:<hex>"`, or the bare hex). Documents are
registered by an operator only (`phigate documents register`): a client sending a hash with
its text (Apollo's automatic persisted queries) registers nothing, and in `required` mode is
refused like any other text. Everything here happens before the text is parsed.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from api.settings import TrustedDocuments
from models import TrustedDocument

_HEX = re.compile(r"[0-9a-f]{64}")
CACHE_SIZE = 1024
"""Documents kept in memory per worker. A hash names one text forever, so a cached document
is never stale; a miss is not cached, so a document registered while serving is found."""


class DocumentRefused(Exception):
    """`code` is the GraphQL error code a client reads (Apollo's, where Apollo has one)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def sha256_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def requested_hash(payload: Mapping[str, Any]) -> str | None:
    """The document hash a request names, if it names one."""
    extensions = payload.get("extensions")
    persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
    named = {
        _hex(payload.get("documentId")),
        _hex(persisted.get("sha256Hash") if isinstance(persisted, dict) else None),
    } - {None}
    if len(named) > 1:
        raise DocumentRefused("BAD_REQUEST", "document_ids_differ")
    return named.pop() if named else None


def _hex(value: object) -> str | None:
    if value is None:
        return None
    digest = value.removeprefix("sha256:") if isinstance(value, str) else ""
    if not _HEX.fullmatch(digest):
        raise DocumentRefused("BAD_REQUEST", "document_id_invalid")
    return digest


class DocumentStore:
    def __init__(self, mode: TrustedDocuments) -> None:
        self.mode = mode
        self._cache: OrderedDict[str, str] = OrderedDict()

    async def text(self, payload: Mapping[str, Any]) -> str | None:
        """The text of the registered document the request names; None when the request's
        own text is to run, which only `optional` allows. DocumentRefused otherwise."""
        digest = requested_hash(payload)
        query = payload.get("query")
        if digest is None:
            if self.mode is TrustedDocuments.REQUIRED:
                raise DocumentRefused("PERSISTED_QUERY_ID_REQUIRED", "trusted_document_required")
            return None
        if query is not None:
            if not isinstance(query, str) or sha256_of(query) != digest:
                raise DocumentRefused("BAD_REQUEST", "document_does_not_match_its_hash")
            if self.mode is TrustedDocuments.OPTIONAL:
                return None  # any text may run: this one, registered or not
        # A hash with its text registers nothing (Apollo's automatic persisted queries would).
        return await self._registered(digest)

    async def _registered(self, digest: str) -> str:
        cached = self._cache.get(digest)
        if cached is not None:
            self._cache.move_to_end(digest)
            return cached
        found = await TrustedDocument.filter(sha256=digest).values_list("body", flat=True)
        if not found:
            raise DocumentRefused("PERSISTED_QUERY_NOT_FOUND", "persisted_query_not_found")
        body: str = found[0]  # type: ignore[assignment]
        self._cache[digest] = body
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return body
