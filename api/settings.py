"""Configuration from the environment. Every setting has a safe default; see README."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class ConfigError(Exception):
    """A setting is missing or invalid. Messages name the setting, never its value."""


@dataclass(frozen=True, slots=True)
class Settings:
    environment: Environment
    data_dir: Path
    database_url: str
    master_key: str | None
    host: str
    port: int

    @property
    def production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    @property
    def master_key_file(self) -> Path:
        return self.data_dir / "master.key"

    def ensure_data_dir(self) -> None:
        """Create the data folder readable by this user only: it holds the database and keys."""
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        try:
            environment = Environment(env.get("PHIGATE_ENV", "development"))
        except ValueError:
            raise ConfigError("PHIGATE_ENV must be 'development' or 'production'") from None
        data_dir = Path(env.get("PHIGATE_DATA_DIR", "data")).resolve()
        database_url = env.get("PHIGATE_DATABASE_URL") or f"sqlite://{data_dir / 'phigate.sqlite3'}"
        master_key = env.get("PHIGATE_MASTER_KEY") or None
        if environment is Environment.PRODUCTION and master_key is None:
            raise ConfigError("PHIGATE_MASTER_KEY is required in production")
        try:
            port = int(env.get("PHIGATE_PORT", "8000"))
        except ValueError:
            raise ConfigError("PHIGATE_PORT must be a number") from None
        return cls(
            environment=environment,
            data_dir=data_dir,
            database_url=database_url,
            master_key=master_key,
            host=env.get("PHIGATE_HOST", "127.0.0.1"),
            port=port,
        )
