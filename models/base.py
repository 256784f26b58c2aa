"""Base model: a random public id for every externally visible row, and sealed-column binding."""

from __future__ import annotations

import re
import secrets
from typing import Any, ClassVar, Self

from tortoise import fields
from tortoise.models import Model

from crypto.keyring import Keyring
from crypto.sealed import Sealed, binding_for
from models.loading import NewRows, RowLoader


class SealedField(fields.BinaryField[Any]):
    """A PHI column. Holds AES-GCM ciphertext; loads as a `Sealed` bound to its column and row."""

    def to_db_value(self, value: Any, instance: Any) -> bytes | None:
        if value is None:
            return None
        if not isinstance(value, Sealed):
            # Plaintext must never reach a PHI column, not even by mistake.
            raise TypeError("a PHI column only accepts Sealed values")
        if isinstance(instance, PublicModel) and value.binding != instance.binding(self):
            raise ValueError("sealed value is bound to another column or row")
        return value.blob


class SecretField(SealedField):
    """A sealed value the server keeps for itself (a TOTP seed, the report tally's keys and
    facts): encrypted and rotated like PHI, but never exposed through GraphQL."""


class PublicModel(Model):
    """A row with an opaque public id. Database keys never leave the process."""

    id = fields.BigIntField(primary_key=True)
    public_id = fields.CharField(max_length=40, unique=True)

    PUBLIC_ID_PREFIX: ClassVar[str]
    _sealed_columns: ClassVar[tuple[tuple[str, str], ...] | None] = None
    _loader: ClassVar[RowLoader[Any]]
    _new_rows: ClassVar[NewRows[Any]]
    _bindings: ClassVar[dict[str, str]]

    class Meta:
        abstract = True

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("public_id", f"{self.PUBLIC_ID_PREFIX}_{secrets.token_urlsafe(16)}")
        cls = type(self)
        new_rows = cls.__dict__.get("_new_rows")
        if new_rows is None:
            new_rows = cls._new_rows = NewRows(cls)
        if not new_rows.fill(self, kwargs):
            super().__init__(**kwargs)

    @classmethod
    def is_public_id(cls, value: str) -> bool:
        """Whether `value` has the shape of this model's ids (checked before any query)."""
        return _PUBLIC_ID.fullmatch(value) is not None and value.partition("_")[0] == (
            cls.PUBLIC_ID_PREFIX
        )

    def binding(self, field: fields.Field[Any]) -> str:
        return self._binding_prefixes()[field.model_field_name] + self.public_id

    @classmethod
    def _binding_prefixes(cls) -> dict[str, str]:
        """Sealed attribute -> the prefix of its bindings (`table.column|`)."""
        prefixes = cls.__dict__.get("_bindings")
        if prefixes is None:
            prefixes = {name: binding_for(column, "") for name, column in cls.sealed_columns()}
            cls._bindings = prefixes
        return prefixes

    @classmethod
    def bound_to(cls, attribute: str, public_id: str) -> str:
        """The binding of sealed column `attribute` of row `public_id`, for statements that
        read or write columns rather than rows (the report tally's)."""
        return cls._binding_prefixes()[attribute] + public_id

    @classmethod
    def stored(cls, attribute: str, public_id: str, blob: bytes | None) -> Sealed | None:
        """A sealed column's stored bytes as the `Sealed` they are."""
        return None if blob is None else Sealed(blob, cls.bound_to(attribute, public_id))

    def seal(self, keyring: Keyring, **plaintext: str | None) -> None:
        """Encrypt values into this row's sealed columns, bound to this row."""
        prefixes = self._binding_prefixes()
        public_id = self.public_id
        # Straight into the instance, not through tortoise's `__setattr__`: what that checks
        # (a related object, an async default still pending) a sealed column never is.
        state = self.__dict__
        sealing: list[tuple[str, str]] = []
        names = []
        for name, value in plaintext.items():
            prefix = prefixes.get(name)
            if prefix is None:
                raise TypeError(f"{name} is not a sealed column")
            if value is None:
                state[name] = None
            else:
                sealing.append((value, prefix + public_id))
                names.append(name)
        state.update(zip(names, keyring.seal_all(sealing), strict=True))

    @classmethod
    def sealed_columns(cls) -> tuple[tuple[str, str], ...]:
        """(attribute, `table.column`) for every sealed field, computed once per class."""
        if cls._sealed_columns is None:
            cls._sealed_columns = tuple(
                (name, _column_name(cls, name))
                for name, field in cls._meta.fields_map.items()
                if isinstance(field, SealedField)
            )
        return cls._sealed_columns

    @classmethod
    def _init_from_db(cls, **kwargs: Any) -> Self:
        loader = cls.__dict__.get("_loader")
        if loader is None or not loader.current():
            loader = RowLoader(cls, cls._binding_prefixes())
            cls._loader = loader
        row = loader.load(kwargs)
        if row is None:
            row = super()._init_from_db(**kwargs)
            loader.seal(row.__dict__)
        return row


# A prefix, then 16 random bytes in URL-safe base64 (22 characters).
_PUBLIC_ID = re.compile(r"[a-z]+_[A-Za-z0-9_-]{22}")


def _column_name(model: type[Model], attribute: str) -> str:
    field = model._meta.fields_map[attribute]
    return f"{model._meta.db_table}.{field.source_field or attribute}"
