"""Configuration from the environment. Every setting has a safe default; see docs/operations.md."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

from api.cors import parse_origin
from api.db import Timeouts
from api.networks import Network, parse_networks
from crypto.provider_config import KmsConfig, Pkcs11Config
from permissions.policy import EXPORT_BUDGET
from permissions.roles import Role
from permissions.safeguards import Safeguards
from schema.limits import Limits


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
    """One JSON object a line, for a central log store (api/log_config.py)."""


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class TrustedDocuments(StrEnum):
    OPTIONAL = "optional"
    """A request sends a registered document's hash or a document's text."""
    REQUIRED = "required"
    """Only registered documents run: any other text is refused before it is parsed."""


class Transport(StrEnum):
    TLS = "tls"
    """phigate terminates TLS itself (self-signed certificate generated for local use)."""
    PROXY = "proxy"
    """A trusted TLS-terminating proxy in front; it must send `X-Forwarded-Proto: https`."""


class ProviderKind(StrEnum):
    """Who holds the key-encryption key that wraps the data keys (api/keys.py)."""

    LOCAL = "local"
    PKCS11 = "pkcs11"
    AWS_KMS = "aws-kms"


@dataclass(frozen=True, slots=True)
class KeyCustody:
    kind: ProviderKind = ProviderKind.LOCAL
    pkcs11: Pkcs11Config | None = None
    kms: KmsConfig | None = None
    """Either may be set beside another kind: `phigate keys rewrap --from` reads both."""
    check_interval: timedelta = timedelta(seconds=10)
    """How often a running worker asks the provider to unwrap a probe (api/provider_watch.py)."""


E = TypeVar("E", bound=StrEnum)
DEFAULT_LIMITS = Limits()


class ConfigError(Exception):
    """A setting is missing or invalid. Messages name the setting, never its value."""


MIN_IDLE_TIMEOUT = timedelta(minutes=1)
"""Shorter, a session would end while its user reads one screen: no deployment means that, so
it is refused as the likely slip it is (`15` meant as minutes) rather than obeyed."""


@dataclass(frozen=True, slots=True)
class Settings:
    environment: Environment
    data_dir: Path
    database_url: str
    master_key: str | None = field(repr=False)
    key_custody: KeyCustody = field(default_factory=KeyCustody)
    host: str = "127.0.0.1"
    port: int = 8443
    transport: Transport = Transport.TLS
    tls_cert: Path | None = None
    tls_key: Path | None = None
    trusted_proxies: tuple[Network, ...] = ()
    role_networks: Mapping[Role, tuple[Network, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    idle_timeout: timedelta = timedelta(minutes=15)
    session_lifetime: timedelta = timedelta(hours=8)
    lockout_threshold: int = 5
    lockout_duration: timedelta = timedelta(minutes=15)
    limits: Limits = DEFAULT_LIMITS
    max_body_bytes: int = 64 * 1024
    keyring_refresh: timedelta = timedelta(seconds=5)
    """How often a running worker looks for data key versions created by a rotation."""
    pg_bin: Path | None = None
    """Where pg_dump and pg_restore live, if not on PATH or in Debian's usual folders."""
    oauth_issuer: str = "https://127.0.0.1:8443"
    """OAuth2 issuer: the public HTTPS base URL partners reach phigate at (no trailing slash)."""
    webauthn_origin: str = "https://localhost:8443"
    """The origin browsers use passkeys at; its host name is the WebAuthn relying party id
    (a name: WebAuthn refuses an IP address)."""
    access_token_lifetime: timedelta = timedelta(minutes=10)
    refresh_token_lifetime: timedelta = timedelta(hours=8)
    """Absolute lifetime of a refresh token family: rotation never extends it."""
    safeguards: Safeguards = field(default_factory=Safeguards)
    audit_settle: timedelta = timedelta(seconds=10)
    """Rows are sealed once the database recorded them this long ago (audit/sealer.py)."""
    audit_seal_interval: timedelta = timedelta(seconds=5)
    """How often the app's background sealer runs; zero turns it off (`phigate audit seal`)."""
    report_tally_interval: timedelta = timedelta(seconds=5)
    """How often the app takes write records into the report tally (ops/tally.py); zero turns
    it off (`phigate reports tally`)."""
    db_statement_timeout: timedelta = timedelta(seconds=5)
    """Longest a statement of the serving app runs or waits for a lock (api/db.py)."""
    db_acquire_timeout: timedelta = timedelta(seconds=5)
    """Longest a request waits for a database connection (or, on SQLite, its turn on one)."""
    serving_role: str | None = None
    """PostgreSQL: the role `phigate serve` connects as; `phigate migrate` grants it what it
    needs and no more (ops/grants.py)."""
    header_timeout: timedelta = timedelta(seconds=10)
    """Longest a connection may take to send a request's headers (api/http_protocol.py)."""
    graceful_shutdown: timedelta = timedelta(seconds=5)
    """Longest a stopping server waits for requests in flight before closing connections."""
    log_format: LogFormat = LogFormat.TEXT
    log_level: LogLevel = LogLevel.INFO
    metrics_address: tuple[str, int] | None = None
    """Where `phigate serve` exposes Prometheus metrics (a listener of its own); None: off."""
    cors_origins: frozenset[str] = frozenset()
    """Web origins (`https://app.example.org`) whose pages may call phigate with credentials."""
    trusted_documents: TrustedDocuments = TrustedDocuments.OPTIONAL
    """Whether /graphql runs only documents registered with `phigate documents register`."""

    def __post_init__(self) -> None:
        # Here, not in from_env: a Settings built in code is refused the same way.
        if self.idle_timeout < MIN_IDLE_TIMEOUT:
            seconds = int(MIN_IDLE_TIMEOUT.total_seconds())
            raise ConfigError(f"PHIGATE_IDLE_TIMEOUT must be at least {seconds} seconds")

    @property
    def production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    @property
    def db_timeouts(self) -> Timeouts:
        return Timeouts(
            statement=self.db_statement_timeout.total_seconds(),
            acquire=self.db_acquire_timeout.total_seconds(),
        )

    @property
    def master_key_file(self) -> Path:
        return self.data_dir / "master.key"

    def ensure_data_dir(self) -> None:
        """Create the data folder readable by this user only: it holds the database and keys."""
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        environment = _choice(env, "PHIGATE_ENV", Environment, Environment.DEVELOPMENT)
        data_dir = Path(env.get("PHIGATE_DATA_DIR", "data")).resolve()
        master_key = env.get("PHIGATE_MASTER_KEY") or None
        custody = _key_custody(env)
        if (
            environment is Environment.PRODUCTION
            and custody.kind is ProviderKind.LOCAL
            and master_key is None
        ):
            raise ConfigError("PHIGATE_MASTER_KEY is required in production")
        transport = _choice(env, "PHIGATE_TRANSPORT", Transport, Transport.TLS)
        trusted_proxies = _networks(env, "PHIGATE_TRUSTED_PROXIES")
        if transport is Transport.PROXY and not trusted_proxies:
            raise ConfigError("PHIGATE_TRANSPORT=proxy needs PHIGATE_TRUSTED_PROXIES")
        cert, key = env.get("PHIGATE_TLS_CERT"), env.get("PHIGATE_TLS_KEY")
        if bool(cert) != bool(key):
            raise ConfigError("PHIGATE_TLS_CERT and PHIGATE_TLS_KEY go together")
        host, port = env.get("PHIGATE_HOST", "127.0.0.1"), _int(env, "PHIGATE_PORT", 8443)
        issuer = env.get("PHIGATE_OAUTH_ISSUER") or f"https://{host}:{port}"
        if not issuer.startswith("https://"):
            raise ConfigError("PHIGATE_OAUTH_ISSUER must be an https:// URL")
        webauthn_origin = env.get("PHIGATE_WEBAUTHN_ORIGIN") or f"https://localhost:{port}"
        if not webauthn_origin.startswith("https://"):
            raise ConfigError("PHIGATE_WEBAUTHN_ORIGIN must be an https:// URL")
        return cls(
            environment=environment,
            data_dir=data_dir,
            database_url=env.get("PHIGATE_DATABASE_URL")
            or f"sqlite://{data_dir / 'phigate.sqlite3'}",
            master_key=master_key,
            key_custody=custody,
            host=host,
            port=port,
            transport=transport,
            tls_cert=Path(cert) if cert else None,
            tls_key=Path(key) if key else None,
            trusted_proxies=trusted_proxies,
            role_networks=_role_networks(env.get("PHIGATE_ROLE_NETWORKS", "")),
            idle_timeout=timedelta(seconds=_int(env, "PHIGATE_IDLE_TIMEOUT", 900)),
            session_lifetime=timedelta(seconds=_int(env, "PHIGATE_SESSION_LIFETIME", 28800)),
            lockout_threshold=_int(env, "PHIGATE_LOCKOUT_THRESHOLD", 5),
            lockout_duration=timedelta(seconds=_int(env, "PHIGATE_LOCKOUT_SECONDS", 900)),
            limits=Limits(
                max_depth=_int(env, "PHIGATE_MAX_DEPTH", DEFAULT_LIMITS.max_depth),
                max_aliases=_int(env, "PHIGATE_MAX_ALIASES", DEFAULT_LIMITS.max_aliases),
                max_tokens=_int(env, "PHIGATE_MAX_TOKENS", DEFAULT_LIMITS.max_tokens),
                max_cost=_int(env, "PHIGATE_MAX_COST", DEFAULT_LIMITS.max_cost),
                max_directives_per_field=_int(
                    env, "PHIGATE_MAX_DIRECTIVES", DEFAULT_LIMITS.max_directives_per_field
                ),
            ),
            max_body_bytes=_int(env, "PHIGATE_MAX_BODY_BYTES", 64 * 1024),
            keyring_refresh=timedelta(seconds=_int(env, "PHIGATE_KEYRING_REFRESH_SECONDS", 5)),
            pg_bin=Path(env["PHIGATE_PG_BIN"]) if env.get("PHIGATE_PG_BIN") else None,
            oauth_issuer=issuer.rstrip("/"),
            webauthn_origin=webauthn_origin.rstrip("/"),
            access_token_lifetime=timedelta(
                seconds=_int(env, "PHIGATE_ACCESS_TOKEN_LIFETIME", 600)
            ),
            refresh_token_lifetime=timedelta(
                seconds=_int(env, "PHIGATE_REFRESH_TOKEN_LIFETIME", 28800)
            ),
            safeguards=Safeguards(
                export_budget=_export_budget(env.get("PHIGATE_EXPORT_BUDGET", "")),
                break_glass_minutes=_int(env, "PHIGATE_BREAK_GLASS_MINUTES", 60),
                break_glass_max_minutes=_int(env, "PHIGATE_BREAK_GLASS_MAX_MINUTES", 240),
            ),
            audit_settle=timedelta(seconds=_int(env, "PHIGATE_AUDIT_SETTLE_SECONDS", 10)),
            audit_seal_interval=timedelta(seconds=_int(env, "PHIGATE_AUDIT_SEAL_INTERVAL", 5)),
            report_tally_interval=timedelta(seconds=_int(env, "PHIGATE_REPORT_TALLY_INTERVAL", 5)),
            db_statement_timeout=_seconds(env, "PHIGATE_DB_STATEMENT_TIMEOUT_SECONDS", 5),
            db_acquire_timeout=_seconds(env, "PHIGATE_DB_ACQUIRE_TIMEOUT_SECONDS", 5),
            serving_role=env.get("PHIGATE_SERVING_ROLE") or None,
            header_timeout=_seconds(env, "PHIGATE_HEADER_TIMEOUT_SECONDS", 10),
            graceful_shutdown=timedelta(seconds=_int(env, "PHIGATE_GRACEFUL_SHUTDOWN_SECONDS", 5)),
            log_format=_choice(env, "PHIGATE_LOG_FORMAT", LogFormat, LogFormat.TEXT),
            log_level=_choice(env, "PHIGATE_LOG_LEVEL", LogLevel, LogLevel.INFO),
            metrics_address=_address(env, "PHIGATE_METRICS_ADDRESS", port),
            cors_origins=_origins(env.get("PHIGATE_CORS_ORIGINS", "")),
            trusted_documents=_choice(
                env, "PHIGATE_TRUSTED_DOCUMENTS", TrustedDocuments, TrustedDocuments.OPTIONAL
            ),
        )


def _key_custody(env: Mapping[str, str]) -> KeyCustody:
    kind = _choice(env, "PHIGATE_KEY_PROVIDER", ProviderKind, ProviderKind.LOCAL)
    pkcs11 = None
    if kind is ProviderKind.PKCS11 or env.get("PHIGATE_PKCS11_MODULE"):
        pkcs11 = Pkcs11Config(
            module=_required(env, "PHIGATE_PKCS11_MODULE"),
            token_label=_required(env, "PHIGATE_PKCS11_TOKEN_LABEL"),
            key_label=env.get("PHIGATE_PKCS11_KEY_LABEL") or "phigate-kek",
            pin=_secret(env, "PHIGATE_PKCS11_PIN"),
        )
    kms = None
    if kind is ProviderKind.AWS_KMS or env.get("PHIGATE_KMS_KEY_ID"):
        region = env.get("PHIGATE_KMS_REGION") or env.get("AWS_REGION")
        if not region:
            raise ConfigError("PHIGATE_KMS_REGION (or AWS_REGION) is required for AWS KMS")
        kms = KmsConfig(
            key_id=_required(env, "PHIGATE_KMS_KEY_ID"),
            region=region,
            endpoint_url=env.get("PHIGATE_KMS_ENDPOINT_URL") or None,
        )
    check = _seconds(env, "PHIGATE_KEY_PROVIDER_CHECK_SECONDS", 10)
    return KeyCustody(kind=kind, pkcs11=pkcs11, kms=kms, check_interval=check)


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name)
    if not value:
        raise ConfigError(f"{name} is required for the configured key provider")
    return value


def _secret(env: Mapping[str, str], name: str) -> str:
    """`NAME`, or the first line of the file `NAME_FILE` names (a mounted secret)."""
    if env.get(name):
        return env[name]
    path = env.get(f"{name}_FILE")
    if not path:
        raise ConfigError(f"{name} or {name}_FILE is required for the configured key provider")
    try:
        lines = Path(path).read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        raise ConfigError(f"{name}_FILE cannot be read") from None
    if not lines or not lines[0].strip():
        raise ConfigError(f"{name}_FILE is empty")
    return lines[0].strip()


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    try:
        value = int(env.get(name, str(default)))
    except ValueError:
        raise ConfigError(f"{name} must be a whole number") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative")
    return value


def _seconds(env: Mapping[str, str], name: str, default: int) -> timedelta:
    """A limit in whole seconds; zero would mean no limit, which a limit must not allow."""
    value = _int(env, name, default)
    if value == 0:
        raise ConfigError(f"{name} must be at least 1")
    return timedelta(seconds=value)


def _choice(env: Mapping[str, str], name: str, kind: type[E], default: E) -> E:
    try:
        return kind(env.get(name, default.value))
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise ConfigError(f"{name} must be one of: {allowed}") from None


def _address(env: Mapping[str, str], name: str, serving_port: int) -> tuple[str, int] | None:
    """`127.0.0.1:9464` or `[::1]:9464`; unset or empty: off. Metrics are for the monitoring
    network only, so the address is always explicit, and never the API's own port."""
    text = env.get(name, "").strip()
    if not text:
        return None
    host, _, port_text = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError(f"{name} must be host:port, e.g. 127.0.0.1:9464")
    if int(port_text) == serving_port:
        raise ConfigError(f"{name} must not use the API's port (PHIGATE_PORT)")
    return host, int(port_text)


def _networks(env: Mapping[str, str], name: str) -> tuple[Network, ...]:
    try:
        return parse_networks(env.get(name, ""))
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None


def _origins(text: str) -> frozenset[str]:
    """`https://app.example.org https://portal.example.org` (spaces or commas between)."""
    try:
        return frozenset(parse_origin(entry) for entry in text.replace(",", " ").split())
    except ValueError as exc:
        raise ConfigError(f"PHIGATE_CORS_ORIGINS: {exc}") from None


def _role_networks(text: str) -> Mapping[Role, tuple[Network, ...]]:
    """`billing=10.1.0.0/16 10.2.0.0/16;front_desk=10.3.0.0/16`"""
    result: dict[Role, tuple[Network, ...]] = {}
    for entry in filter(None, (part.strip() for part in text.split(";"))):
        name, _, cidrs = entry.partition("=")
        try:
            result[Role(name.strip())] = parse_networks(cidrs)
        except ValueError as exc:
            raise ConfigError(f"PHIGATE_ROLE_NETWORKS: {exc}") from None
    return MappingProxyType(result)


def _export_budget(text: str) -> Mapping[Role, int]:
    """`physician=200;billing=5000`: roles not named keep the policy's budget."""
    result = dict(EXPORT_BUDGET)
    for entry in filter(None, (part.strip() for part in text.split(";"))):
        name, _, count = entry.partition("=")
        try:
            role, budget = Role(name.strip()), int(count)
        except ValueError:
            raise ConfigError("PHIGATE_EXPORT_BUDGET: expected role=count;...") from None
        if budget < 0:
            raise ConfigError("PHIGATE_EXPORT_BUDGET must not be negative")
        result[role] = budget
    return MappingProxyType(result)
