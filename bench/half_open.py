"""Half-open TLS connections against a real `phigate serve` (issue 25, item 7).

Opens `--connections` TLS connections that each send an unfinished request header, while a
normal client times `GET /healthz` on fresh connections; prints the normal client's median
latency without and with them (one run), the server's peak open descriptors, and how many of
the half-open connections the server closed within the header timeout plus a margin.

    .venv/bin/python -m bench.half_open --connections 5000 --header-timeout 10
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import ssl
import statistics
import tempfile
import time
from pathlib import Path

from tests.live import live_server


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def _latencies(host: str, port: int, context: ssl.SSLContext, count: int) -> list[float]:
    out = []
    for _ in range(count):
        started = time.perf_counter()
        reader, writer = await asyncio.open_connection(host, port, ssl=context)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        await reader.read()
        writer.close()
        out.append((time.perf_counter() - started) * 1000)
    return out


async def _half_open(
    host: str, port: int, context: ssl.SSLContext
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
    try:
        reader, writer = await asyncio.open_connection(host, port, ssl=context)
    except OSError:
        return None
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    return reader, writer


async def _closed(reader: asyncio.StreamReader, wait: float) -> bool:
    try:
        return await asyncio.wait_for(reader.read(1), wait) == b""
    except TimeoutError:
        return False
    except OSError:
        return True


async def run(host: str, port: int, pid: int, cert: Path, args: argparse.Namespace) -> None:
    context = ssl.create_default_context(cafile=cert)
    before = statistics.median(await _latencies(host, port, context, args.samples))
    opened: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    started = time.monotonic()
    peak = _fds(pid)
    for batch in range(0, args.connections, 200):
        results = await asyncio.gather(
            *(_half_open(host, port, context) for _ in range(min(200, args.connections - batch)))
        )
        opened += [r for r in results if r is not None]
        peak = max(peak, _fds(pid))
    during = statistics.median(await _latencies(host, port, context, args.samples))
    peak = max(peak, _fds(pid))
    remaining = args.header_timeout + 10 - (time.monotonic() - started)
    closed = await asyncio.gather(*(_closed(r, max(remaining, 1)) for r, _ in opened))
    print(f"half-open connections opened: {len(opened)} of {args.connections}")
    print(f"server open descriptors: peak {peak}, after {_fds(pid)}")
    print(f"closed by the server within header timeout + 10 s: {sum(closed)} of {len(opened)}")
    print(f"normal client median: {before:.1f} ms without, {during:.1f} ms with "
          f"(ratio {during / before:.2f})")  # fmt: skip
    for _, writer in opened:
        writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=5000)
    parser.add_argument("--header-timeout", type=int, default=10)
    parser.add_argument("--samples", type=int, default=50)
    args = parser.parse_args()
    # Room for the connections on both sides (the server inherits the limit).
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, args.connections * 2 + 1024), hard))
    with tempfile.TemporaryDirectory() as folder:
        env = {
            "PHIGATE_MASTER_KEY": "",
            "PHIGATE_HEADER_TIMEOUT_SECONDS": str(args.header_timeout),
        }
        with live_server(env, Path(folder)) as server:
            host, port = server.url.removeprefix("https://").split(":")
            asyncio.run(run(host, int(port), server.process.pid, server.cert, args))


if __name__ == "__main__":
    main()
