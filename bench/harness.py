"""What the in-process benchmarks share: a fresh database with the control's tables beside the
product's, and a command line that can start a throwaway PostgreSQL cluster for it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

from tortoise import Tortoise

from api.db import migrate, tortoise_config
from tests.pgcluster import throwaway_database


@contextlib.asynccontextmanager
async def bench_database(url: str | None) -> AsyncIterator[str]:
    """The product's schema migrated into `url` (default: a fresh SQLite file), and
    bench/control.py's tables; yields the URL."""
    if url is None:
        folder = Path(tempfile.mkdtemp(prefix="phigate-bench-"))
        url = f"sqlite://{folder / 'bench.sqlite3'}"
    await migrate(url)
    config = tortoise_config(url)
    config["apps"]["bench"] = {"models": ["bench.control"], "default_connection": "default"}
    await Tortoise.init(config=config)
    # The control tables are benchmark scaffolding, not the product: created directly.
    await Tortoise.generate_schemas(safe=True)
    try:
        yield url
    finally:
        await Tortoise.close_connections()


def command_line(
    doc: str | None,
    main: Callable[[argparse.Namespace], Coroutine[Any, Any, None]],
    rounds: int,
    more: Callable[[argparse.ArgumentParser], None] | None = None,
) -> None:
    """`--patients`, `--rounds`, where the database is, and what `more` adds; then `main`."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=rounds)
    if more is not None:
        more(parser)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--database-url", help="an empty database (default: a fresh SQLite file)")
    where.add_argument(
        "--postgres", action="store_true", help="start a throwaway PostgreSQL cluster and use it"
    )
    args = parser.parse_args()
    if not args.postgres:
        asyncio.run(main(args))
        return
    with throwaway_database() as url:
        args.database_url = url
        asyncio.run(main(args))
