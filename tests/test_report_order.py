"""A report's keyed order read bucket by bucket: every patient once, stable across the pages
of one report, a different order in another report, and in step with registrations."""

from __future__ import annotations

import secrets

import httpx

from crypto.keyring import Keyring
from models import Patient
from models.people import SHUFFLE_BITS
from permissions import report_order
from permissions.deidentify import deidentify_zip, report_date
from permissions.roles import Role
from tests.helpers import gql
from tests.synthetic import (
    member,
    organization_with_researcher,
    population,
    seed_patient,
    years_before,
)
from tests.world import OTHER, World

PAGE = """
query($after: String) {
  report { patients(first: 100, after: $after) {
    totalCount totalCountExact edges { node { zip } } pageInfo { hasNextPage endCursor } } }
}
"""


def test_buckets_are_a_keyed_permutation() -> None:
    for bits in range(10):
        key = secrets.token_bytes(32)
        spans = [report_order.span(key, bits, p) for p in range(1 << bits)]
        width = 1 << (SHUFFLE_BITS - bits)
        # Every bucket exactly once, each the same width, together the whole range.
        assert sorted(low for low, _ in spans) == [n * width for n in range(1 << bits)]
        assert all(high - low == width - 1 for low, high in spans)
    key, other = secrets.token_bytes(32), secrets.token_bytes(32)
    assert [report_order.span(key, 8, p) for p in range(256)] != [
        report_order.span(other, 8, p) for p in range(256)
    ]


def test_bucket_size_follows_the_report_size() -> None:
    spread = 1 << SHUFFLE_BITS
    assert report_order.bucket_bits(list(range(100))) == 0
    # 1,001 lowest values of a million evenly spread patients: 2**12 buckets of about 244.
    sample = [n * spread // 1_000_000 for n in range(1001)]
    assert report_order.bucket_bits(sample) == 11


async def read_report(client: httpx.AsyncClient, desk: str) -> tuple[list[str], dict[str, object]]:
    """Every page of one report as front desk account `desk` (it sees every patient of its
    organization): zips in order."""
    zips: list[str] = []
    after = None
    first: dict[str, object] = {}
    while True:
        body = (await gql(client, PAGE, {"after": after}, as_user=desk)).json()
        assert "errors" not in body
        page = body["data"]["report"]["patients"]
        first = first or page
        zips += [edge["node"]["zip"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return zips, first
        after = page["pageInfo"]["endCursor"]


async def test_pages_cover_a_large_report_once(
    client: httpx.AsyncClient, world: World, keyring: Keyring
) -> None:
    org = await organization_with_researcher("Large", "large.rae")
    await member(org, "large.desk", Role.FRONT_DESK)
    birth = years_before(report_date(), 40)
    await population(keyring, org, [(1100, "62704", birth, [])])
    for n in range(3):
        identity = {"mrn": f"X{n}", "given_name": "G", "family_name": "F", "birth_date": birth}
        await seed_patient(keyring, org, {**identity, "zip": "30301"})
    shuffles = await Patient.filter(organization=org).values_list("report_shuffle", flat=True)
    # Registration drew every patient's value: spread, not a constant.
    assert len(set(shuffles)) > len(shuffles) * 0.99
    total = len(shuffles)
    one, first_page = await read_report(client, "large.desk")
    assert (first_page["totalCount"], first_page["totalCountExact"]) == (1000, False)
    # Over 1,000 patients the report runs in more than one bucket, and misses no one.
    assert report_order.bucket_bits(sorted(shuffles)[:1001]) >= 1
    assert len(one) == total
    # The world's patients are another organization's (OTHER's ZIP area is no one's here).
    assert deidentify_zip(OTHER["zip"]) not in one
    two, _ = await read_report(client, "large.desk")
    assert sorted(one) == sorted(two)
    # The three other patients sit somewhere else in each report's order (its key differs).
    large = max(set(one), key=one.count)
    assert [i for i, z in enumerate(one) if z != large] != [
        i for i, z in enumerate(two) if z != large
    ]
