"""What the operations commands need of a deployment. The CLI (api/) provides it: ops never
imports the server's settings or database module, so it sits below them."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Protocol


class Deployment(Protocol):
    @property
    def database_url(self) -> str: ...

    @property
    def data_dir(self) -> Path: ...

    @property
    def pg_bin(self) -> Path | None: ...

    def connected(self) -> AbstractAsyncContextManager[None]:
        """The ORM connected to the deployment's database for the block."""
        ...
