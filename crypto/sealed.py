"""`Sealed`: a PHI value as it leaves the database, ciphertext plus what it is bound to."""

from __future__ import annotations

from typing import NamedTuple


class Sealed(NamedTuple):
    """An encrypted value and its binding (`table.column|row public id`).

    There is deliberately no way to get plaintext out of this object: only a `Keyring` opens it,
    and only the `@phi` guard holds the keyring during GraphQL execution. A named tuple because
    every PHI value of a page is loaded as one: immutable, and built without a Python-level
    `__init__`.
    """

    blob: bytes
    binding: str

    @property
    def column(self) -> str:
        return self.binding.partition("|")[0]

    def __repr__(self) -> str:
        return f"<Sealed {self.column}>"

    def __str__(self) -> str:
        return repr(self)


def binding_for(column: str, row_id: str) -> str:
    return f"{column}|{row_id}"
