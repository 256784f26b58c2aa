"""`phigate`: serve, migrate, seed demo data, print the policy or the schema, seal and verify the
audit trail, manage accounts, organizations and trusted documents."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from api import (
    cli_audit,
    cli_backup,
    cli_clients,
    cli_documents,
    cli_import,
    cli_keys,
    cli_organizations,
    cli_reports,
    cli_users,
    db,
)
from api.demo import DemoLogin, seed_demo
from api.docs import policy_document, stale, write
from api.keys import key_provider
from api.log_config import log_config
from api.settings import ConfigError, Settings, Transport
from api.startup import STARTUP_FAILURE, describe
from api.tls import ensure_self_signed
from crypto.errors import CryptoError
from models.keystore import load_keyring
from ops.grants import GrantError
from ops.workdir import sweep
from schema.build import build_schema


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


def _docs(folder: Path, check: bool) -> int:
    changed = stale(folder) if check else write(folder)
    for path in changed:
        print(f"{path}: {'stale (run: phigate docs)' if check else 'rewritten'}")
    return 1 if check and changed else 0


APP = "api.main:app_from_env"


def _migrate_embedded(settings: Settings) -> None:
    """The embedded SQLite default is single-node: bring its schema up to date on start."""
    if settings.database_url.startswith("sqlite"):
        settings.ensure_data_dir()
        asyncio.run(db.migrate(settings.database_url, provider=key_provider(settings)))


def _expose_metrics(settings: Settings, address: tuple[str, int]) -> None:
    """Before any worker starts: they write their values where the supervisor reads them."""
    from observe import exposition

    folder = os.environ.get(exposition.MULTIPROC_DIR) or str(settings.data_dir / "metrics")
    exposition.serve(*address, exposition.prepare(Path(folder)))


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from api.workers import run_workers

    # A master key that cannot be read is a configuration error here, once, rather than in
    # every worker's app factory (which uvicorn would restart forever).
    key_provider(settings)
    # What a killed backup command left unencrypted goes now (ops/workdir.py).
    sweep(settings.data_dir)
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
        "log_level": settings.log_level.value,
        # uvicorn's access log prints query strings, which may hold PHI: api.access_log
        # writes one without them.
        "access_log": False,
        "log_config": log_config(settings.log_format, settings.log_level),
        # Closes connections that never finish a request's headers (api/http_protocol.py).
        "http": "api.http_protocol:HeaderTimeoutProtocol",
        # A stopping server waits this long for requests in flight, then closes what is
        # left: a deploy or restart is not held up by clients that keep connections open.
        "timeout_graceful_shutdown": int(settings.graceful_shutdown.total_seconds()),
        **tls,
    }
    if settings.metrics_address is not None:
        _expose_metrics(settings, settings.metrics_address)
    if args.workers > 1 or settings.metrics_address is not None:
        # With metrics on, even one worker runs under the supervisor, which serves them.
        return run_workers(uvicorn.Config(APP, workers=args.workers, **options))
    uvicorn.run(APP, **options)  # exits 3 itself if the app fails to start
    return 0


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
    policy.add_argument("--markdown", action="store_true", help="Markdown (docs/policy.md's table)")
    docs = sub.add_parser("docs", help="rewrite the generated tables of docs/ from the policy")
    docs.add_argument("--folder", type=Path, default=Path("docs"))
    docs.add_argument("--check", action="store_true", help="exit 1 if any table is stale")
    cli_keys.add_parser(sub)
    cli_backup.add_parser(sub)
    cli_clients.add_parser(sub)
    cli_audit.add_parser(sub)
    cli_users.add_parser(sub)
    cli_organizations.add_parser(sub)
    cli_documents.add_parser(sub)
    cli_import.add_parser(sub)
    cli_reports.add_parser(sub)
    sub.add_parser("schema", help="print the GraphQL schema (SDL, with the @phi marks)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        if args.command == "serve":
            return _serve(settings, args)
        elif args.command == "migrate":
            settings.ensure_data_dir()
            asyncio.run(
                db.migrate(settings.database_url, settings.serving_role, key_provider(settings))
            )
            print("migrations applied")
            if settings.serving_role and not settings.database_url.startswith("sqlite"):
                print(f"grants set for serving role {settings.serving_role}")
        elif args.command == "demo":
            _migrate_embedded(settings)
            _print_logins(asyncio.run(_demo(settings, args.patients)))
        elif args.command == "policy":
            sys.stdout.write(policy_document())
        elif args.command == "docs":
            return _docs(args.folder, args.check)
        elif args.command == "keys":
            return cli_keys.run(settings, args)
        elif args.command == "backup":
            return cli_backup.run(settings, args)
        elif args.command == "clients":
            return cli_clients.run(settings, args)
        elif args.command == "audit":
            return cli_audit.run(settings, args)
        elif args.command == "users":
            return cli_users.run(settings, args)
        elif args.command == "organizations":
            return cli_organizations.run(settings, args)
        elif args.command == "documents":
            return cli_documents.run(settings, args)
        elif args.command == "import":
            return cli_import.run(settings, args)
        elif args.command == "reports":
            return cli_reports.run(settings, args)
        elif args.command == "schema":
            # The schema as served: what a client's code generator reads.
            sys.stdout.write(build_schema(settings.limits).as_str() + "\n")
    except ConfigError as exc:
        print(f"phigate: configuration error: {exc}", file=sys.stderr)
        return 2
    except GrantError as exc:
        print(f"phigate: migrate: {exc}", file=sys.stderr)
        return 1
    except CryptoError as exc:
        # `demo` (and `serve --demo`) open the data keys before any server starts.
        print(f"phigate: {describe(exc)}", file=sys.stderr)
        return STARTUP_FAILURE
    return 0


if __name__ == "__main__":
    sys.exit(main())
