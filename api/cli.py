"""`phigate`: serve, migrate, seed demo data, print the policy, seal and verify the audit trail."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import Any

from api import cli_audit, cli_backup, cli_clients, cli_keys, db
from api.demo import DemoLogin, seed_demo
from api.keys import key_provider
from api.settings import ConfigError, Settings, Transport
from api.tls import ensure_self_signed
from models.keystore import load_keyring
from permissions.matrix import policy_markdown
from schema.build import build_schema
from schema.inventory import phi_fields


async def _demo(settings: Settings, patients: int) -> list[DemoLogin]:
    await db.connect(settings.database_url)
    try:
        keyring = await load_keyring(key_provider(settings))
        return await seed_demo(keyring, patients=patients)
    finally:
        await db.disconnect()


def _print_logins(logins: Sequence[DemoLogin]) -> None:
    print("Demo logins (synthetic data; passwords are new on every run):")
    for login in logins:
        print(f"  {login.username:<14} {login.role.value:<11} {login.password}")


def policy_document() -> str:
    fields = phi_fields(build_schema())
    overrides = [(f.coordinate, f.category, f.overrides) for f in fields]
    writes = [(f.coordinate, f.category, f.write_overrides) for f in fields]
    return policy_markdown(overrides, writes)


APP = "api.main:app_from_env"
LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "phigate": {"handlers": ["stderr"], "level": "INFO"},
        "uvicorn.error": {"handlers": ["stderr"], "level": "INFO"},
    },
}


def _migrate_embedded(settings: Settings) -> None:
    """The embedded SQLite default is single-node: bring its schema up to date on start."""
    if settings.database_url.startswith("sqlite"):
        settings.ensure_data_dir()
        asyncio.run(db.migrate(settings.database_url))


def _serve(settings: Settings, args: argparse.Namespace) -> None:
    import uvicorn

    from api.workers import run_workers

    _migrate_embedded(settings)
    if args.demo:
        _print_logins(asyncio.run(_demo(settings, args.patients)))
    tls: dict[str, str] = {}
    if settings.transport is Transport.TLS:
        cert, key = settings.tls_cert, settings.tls_key
        if cert is None or key is None:
            settings.ensure_data_dir()
            cert, key = ensure_self_signed(settings.data_dir)
        # Python's default server context already refuses anything below TLS 1.2.
        tls = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
    options: dict[str, Any] = {
        "factory": True,
        "host": settings.host,
        "port": settings.port,
        # Forwarded headers are handled by api.transport, from trusted proxies only.
        "proxy_headers": False,
        "server_header": False,
        "log_level": "info",
        # uvicorn's access log prints query strings, which may hold PHI: api.access_log
        # writes one without them.
        "access_log": False,
        "log_config": LOG_CONFIG,
        **tls,
    }
    if args.workers > 1:
        run_workers(uvicorn.Config(APP, workers=args.workers, **options))
    else:
        uvicorn.run(APP, **options)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="phigate", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the API server")
    serve.add_argument("--demo", action="store_true", help="seed demo data and print logins")
    serve.add_argument("--patients", type=int, default=20, help="demo patients to create")
    serve.add_argument("--workers", type=int, default=1)
    sub.add_parser("migrate", help="apply pending database migrations")
    demo = sub.add_parser("demo", help="seed synthetic demo data and print logins")
    demo.add_argument("--patients", type=int, default=20)
    policy = sub.add_parser("policy", help="print the roles x PHI categories matrix")
    policy.add_argument("--markdown", action="store_true", help="Markdown (the README's table)")
    cli_keys.add_parser(sub)
    cli_backup.add_parser(sub)
    cli_clients.add_parser(sub)
    cli_audit.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        if args.command == "serve":
            _serve(settings, args)
        elif args.command == "migrate":
            settings.ensure_data_dir()
            asyncio.run(db.migrate(settings.database_url))
            print("migrations applied")
        elif args.command == "demo":
            _migrate_embedded(settings)
            _print_logins(asyncio.run(_demo(settings, args.patients)))
        elif args.command == "policy":
            sys.stdout.write(policy_document())
        elif args.command == "keys":
            return cli_keys.run(settings, args)
        elif args.command == "backup":
            return cli_backup.run(settings, args)
        elif args.command == "clients":
            return cli_clients.run(settings, args)
        elif args.command == "audit":
            return cli_audit.run(settings, args)
    except ConfigError as exc:
        print(f"phigate: configuration error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
