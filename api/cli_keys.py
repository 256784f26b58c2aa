"""`phigate keys rotate | reencrypt | status | rewrap | init-hsm`: data key rotation, and the
move of the key-encryption key into an HSM or KMS, from the command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import timedelta

from tortoise.exceptions import IntegrityError

from api import db
from api.keys import key_provider
from api.settings import ConfigError, ProviderKind, Settings
from api.startup import key_failure
from crypto.errors import CryptoError
from crypto.provider import KeyProvider
from models.keystore import load_keyring
from ops.audit import operation_id
from ops.errors import DATABASE_ERRORS
from ops.key_status import key_status
from ops.progress import Progress
from ops.rewrap import rewrap
from ops.rotation import count_stale, primary_key, reencrypt, rotate, wait_for_workers

GRACE_FACTOR = 3
"""Default grace: this many keyring refresh intervals (one to learn the key, plus margin)."""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = subparsers.add_parser("keys", help="rotate data keys, show key usage")
    sub = keys.add_subparsers(dest="keys_command", required=True)
    for name, text in (
        ("rotate", "create a new data key version (primary at once) and re-encrypt old values"),
        ("reencrypt", "continue re-encrypting values still on older versions (resume)"),
    ):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument(
            "--grace",
            type=float,
            default=None,
            help="seconds to wait after the key's creation before rewriting rows "
            f"(default {GRACE_FACTOR} x PHIGATE_KEYRING_REFRESH_SECONDS)",
        )
        cmd.add_argument("--batch-size", type=_positive, default=500, help="rows per transaction")
        cmd.add_argument(
            "--max-batches", type=_positive, default=None, help="stop after this many batches"
        )
    status = sub.add_parser("status", help="values per data key version, per sealed column")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    moving = sub.add_parser(
        "rewrap", help="re-wrap every stored key under PHIGATE_KEY_PROVIDER (leaving --from)"
    )
    moving.add_argument(
        "--from",
        dest="source",
        required=True,
        choices=[kind.value for kind in ProviderKind],
        help="the provider the keys are wrapped by now (its settings must still be set)",
    )
    sub.add_parser(
        "init-hsm", help="create the key-encryption key on the PKCS#11 token (if it has none)"
    )


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def run(settings: Settings, args: argparse.Namespace) -> int:
    provider = key_provider(settings)
    if args.keys_command == "init-hsm":
        return _init_hsm(settings, provider)
    try:
        return asyncio.run(_connected(settings, provider, args))
    except KeyboardInterrupt:
        print(
            "phigate: interrupted; finished batches are kept, run `phigate keys reencrypt` to "
            "continue",
            file=sys.stderr,
        )
        return 130


async def _connected(settings: Settings, provider: KeyProvider, args: argparse.Namespace) -> int:
    await db.connect(settings.database_url)
    try:
        if args.keys_command == "status":
            status = await key_status()
            if args.json:
                print(json.dumps(status.as_json(), indent=2))
            else:
                sys.stdout.write(status.as_table())
            return 0
        if args.keys_command == "rewrap":
            return await _rewrap(settings, provider, ProviderKind(args.source))
        return await _rotate(settings, provider, args)
    except CryptoError as exc:
        line = key_failure(exc, "the data keys cannot be unwrapped (wrong master key?)")
        print(f"phigate: {line}", file=sys.stderr)
        return 1
    except DATABASE_ERRORS as exc:
        print(f"phigate: keys: database or file error ({type(exc).__name__})", file=sys.stderr)
        return 1
    finally:
        await db.disconnect()


async def _rotate(settings: Settings, provider: KeyProvider, args: argparse.Namespace) -> int:
    operation = operation_id()
    # Unwrapping the existing keys first proves the master key before anything is written.
    await load_keyring(provider)
    if args.keys_command == "rotate":
        try:
            key = await rotate(provider, operation)
        except IntegrityError:
            print("phigate: another rotation created that version first", file=sys.stderr)
            return 1
        print(f"data key v{key.version} created; it is primary for new values now")
    else:
        key = await primary_key()
    grace = (
        timedelta(seconds=args.grace)
        if args.grace is not None
        else GRACE_FACTOR * settings.keyring_refresh
    )
    slept = await wait_for_workers(key, grace)
    if slept:
        print(f"waited {slept:.0f}s for every worker to learn data key v{key.version}")
    keyring = await load_keyring(provider)
    bar = Progress(f"re-encrypting to v{keyring.primary}", await count_stale(keyring.primary))
    outcome = await reencrypt(
        keyring,
        operation,
        batch_size=args.batch_size,
        max_batches=args.max_batches,
        progress=bar.advance,
    )
    bar.close()
    print(outcome.describe())
    if outcome.remaining:
        print("run `phigate keys reencrypt` to continue")
    return 1 if outcome.unreadable else 0


async def _rewrap(settings: Settings, target: KeyProvider, kind: ProviderKind) -> int:
    if kind is settings.key_custody.kind:
        raise ConfigError("keys rewrap --from names the provider PHIGATE_KEY_PROVIDER already is")
    source = key_provider(settings, kind)
    done = await rewrap(source, target, operation_id())
    print(done.describe(source.name, target.name))
    return 0


def _init_hsm(settings: Settings, provider: KeyProvider) -> int:
    create_key = getattr(provider, "create_key", None)
    if settings.key_custody.kind is not ProviderKind.PKCS11 or create_key is None:
        raise ConfigError("keys init-hsm needs PHIGATE_KEY_PROVIDER=pkcs11")
    try:
        created = create_key()
    except CryptoError as exc:
        print(f"phigate: {key_failure(exc)}", file=sys.stderr)
        return 1
    label = settings.key_custody.pkcs11.key_label if settings.key_custody.pkcs11 else ""
    print(f"key {label!r} {'created on' if created else 'already on'} the token")
    return 0
