"""Client addresses and CIDR allowlists. `X-Forwarded-For` and `X-Forwarded-Proto` are believed
only when the connecting peer is a configured trusted proxy."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(text: str) -> tuple[Network, ...]:
    """`10.0.0.0/8, 192.168.1.7` -> networks; raises ValueError naming the bad entry."""
    networks = []
    for item in text.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"not a CIDR network: {item!r}") from None
    return tuple(networks)


def _address(text: str | None) -> Address | None:
    if not text:
        return None
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def within(address: str | None, networks: Iterable[Network]) -> bool:
    parsed = _address(address)
    return parsed is not None and any(parsed in network for network in networks)


def resolve_client(
    peer: str | None,
    scheme: str,
    forwarded_for: str | None,
    forwarded_proto: str | None,
    trusted: Sequence[Network],
) -> tuple[str | None, str]:
    """The real client address and scheme. Behind trusted proxies, the right-most address in
    `X-Forwarded-For` that is not itself a trusted proxy is the client (the left part of the
    header is whatever the client chose to send)."""
    if not trusted or not within(peer, trusted):
        return peer, scheme
    client = peer
    if forwarded_for:
        for hop in reversed([h.strip() for h in forwarded_for.split(",")]):
            client = hop
            if not within(hop, trusted):
                break
    proto = (forwarded_proto or "").split(",")[0].strip().lower() or scheme
    return client, proto
