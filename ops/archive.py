"""The encrypted backup archive format.

    magic (16 bytes) | header length (u32 BE) | header (JSON) | chunk* (u32 BE length, sealed)

The header names the format, creation time, database kind and the key versions in use, and
holds the archive's random AES-256 key wrapped by the key provider (bound to the backup id):
the archive cannot be opened without the master key. Each chunk is AES-256-GCM under that key
with a random nonce; its associated data is the SHA-256 of magic and header, the chunk's index,
and a final flag. The dump travels in the chunks before the last one; the last chunk, flagged
final, holds the manifest (per-table row counts and digests, and the dump's SHA-256). So an
altered header, a changed, dropped, reordered or appended chunk, or a cut-off file all fail.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crypto.errors import KeyUnavailable
from crypto.provider import KeyProvider

MAGIC = b"PHIGATE-BACKUP\x00\x01"
FORMAT = 1
CHUNK_BYTES = 1 << 20
_NONCE_BYTES = 12
_LENGTH = struct.Struct(">I")
_POSITION = struct.Struct(">Q?")
MAX_HEADER_BYTES = 64 * 1024


class ArchiveError(Exception):
    """The archive is not one, is damaged or altered, or its key cannot be unwrapped.
    Messages are fixed strings: they never carry key material."""


def _key_context(backup_id: str) -> str:
    return f"phigate-backup|{backup_id}"


@dataclass(frozen=True, slots=True)
class Header:
    fields: dict[str, Any]
    raw: bytes

    @property
    def backup_id(self) -> str:
        return str(self.fields["backup_id"])

    @property
    def database(self) -> str:
        return str(self.fields["database"])


class ArchiveWriter:
    """Streams a dump into an archive: `write` the dump, then `finish` with the manifest."""

    def __init__(self, out: BinaryIO, provider: KeyProvider, header: dict[str, Any]) -> None:
        self._out = out
        key = AESGCM.generate_key(bit_length=256)
        backup_id = secrets.token_hex(16)
        fields = {
            **header,
            "format": FORMAT,
            "backup_id": backup_id,
            "provider": provider.name,
            "wrapped_key": base64.b64encode(provider.wrap(key, _key_context(backup_id))).decode(),
        }
        raw = json.dumps(fields, sort_keys=True).encode()
        self.header = Header(fields, raw)
        self._aead = AESGCM(key)
        self._binding = hashlib.sha256(MAGIC + raw).digest()
        self._index = 0
        self._pending = bytearray()
        self._dump_hash = hashlib.sha256()
        self._dump_bytes = 0
        out.write(MAGIC + _LENGTH.pack(len(raw)) + raw)

    def write(self, data: bytes) -> None:
        self._dump_hash.update(data)
        self._dump_bytes += len(data)
        self._pending += data
        while len(self._pending) >= CHUNK_BYTES:
            self._seal(bytes(self._pending[:CHUNK_BYTES]), final=False)
            del self._pending[:CHUNK_BYTES]

    def finish(self, manifest: dict[str, Any]) -> dict[str, Any]:
        if self._pending:
            self._seal(bytes(self._pending), final=False)
            self._pending.clear()
        manifest = {
            **manifest,
            "dump_sha256": self._dump_hash.hexdigest(),
            "dump_bytes": self._dump_bytes,
        }
        self._seal(json.dumps(manifest, sort_keys=True).encode(), final=True)
        return manifest

    def _seal(self, plaintext: bytes, final: bool) -> None:
        nonce = os.urandom(_NONCE_BYTES)
        aad = self._binding + _POSITION.pack(self._index, final)
        sealed = nonce + self._aead.encrypt(nonce, plaintext, aad)
        self._out.write(_LENGTH.pack(len(sealed)) + sealed)
        self._index += 1


def read_header(source: BinaryIO) -> Header:
    if source.read(len(MAGIC)) != MAGIC:
        raise ArchiveError("not a phigate backup archive")
    length = _unpack_length(source)
    if length > MAX_HEADER_BYTES:
        raise ArchiveError("backup archive is damaged (header)")
    raw = _read_exactly(source, length)
    try:
        fields = json.loads(raw)
    except ValueError:
        raise ArchiveError("backup archive is damaged (header)") from None
    if not isinstance(fields, dict) or fields.get("format") != FORMAT:
        raise ArchiveError("unsupported backup archive format")
    return Header(fields, raw)


class ArchiveReader:
    """Yields the dump's bytes chunk by chunk, then holds the authenticated manifest.

    Consumers must read to the end (`manifest` raises until then): only the final chunk and
    the dump digest prove the dump is complete and unchanged.
    """

    def __init__(self, source: BinaryIO, provider: KeyProvider) -> None:
        self._source = source
        self.header = read_header(source)
        try:
            wrapped = base64.b64decode(self.header.fields["wrapped_key"])
            key = provider.unwrap(wrapped, _key_context(self.header.backup_id))
        except (KeyError, ValueError, KeyUnavailable):
            raise ArchiveError(
                "the backup key cannot be unwrapped: wrong master key, or the header was altered"
            ) from None
        self._aead = AESGCM(key)
        self._binding = hashlib.sha256(MAGIC + self.header.raw).digest()
        self._manifest: dict[str, Any] | None = None

    def chunks(self) -> Iterator[bytes]:
        dump_hash = hashlib.sha256()
        index = 0
        while True:
            length = _unpack_length(self._source)
            sealed = _read_exactly(self._source, length)
            plaintext, final = self._open(sealed, index)
            index += 1
            if final:
                break
            dump_hash.update(plaintext)
            yield plaintext
        if self._source.read(1):
            raise ArchiveError("backup archive is damaged (data after the final chunk)")
        manifest = json.loads(plaintext)
        if manifest.get("dump_sha256") != dump_hash.hexdigest():
            raise ArchiveError("backup archive is damaged (dump digest)")
        self._manifest = manifest

    @property
    def manifest(self) -> dict[str, Any]:
        if self._manifest is None:
            raise ArchiveError("backup archive was not read to its end")
        return self._manifest

    def _open(self, sealed: bytes, index: int) -> tuple[bytes, bool]:
        nonce, body = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
        # The flag is not stored: a chunk opens either as a middle chunk or as the final one.
        for final in (False, True):
            try:
                aad = self._binding + _POSITION.pack(index, final)
                return self._aead.decrypt(nonce, body, aad), final
            except InvalidTag:
                continue
        raise ArchiveError(f"backup archive is damaged or altered (chunk {index})")


def _unpack_length(source: BinaryIO) -> int:
    return int(_LENGTH.unpack(_read_exactly(source, _LENGTH.size))[0])


def _read_exactly(source: BinaryIO, size: int) -> bytes:
    data = source.read(size)
    if len(data) != size:
        raise ArchiveError("backup archive is truncated")
    return data
