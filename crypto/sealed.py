"""`Sealed`: a PHI value as it leaves the database, ciphertext plus what it is bound to."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, repr=False)
class Sealed:
    """An encrypted value and its binding (`table.column|row public id`).

    There is deliberately no way to get plaintext out of this object: only a `Keyring` opens it,
    and only the `@phi` guard holds the keyring during GraphQL execution.
    """

    blob: bytes
    binding: str

    @property
    def column(self) -> str:
        return self.binding.partition("|")[0]

    def __repr__(self) -> str:
        return f"<Sealed {self.column}>"

    __str__ = __repr__


def binding_for(column: str, row_id: str) -> str:
    return f"{column}|{row_id}"
