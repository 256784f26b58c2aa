"""A report's keyed order of patients, read one bucket of `Patient.report_shuffle` at a time.

Every patient draws a random shuffle value at registration. A report of N patients splits the
shuffle range into about N / BUCKET buckets (a power of two, fixed for the report), visits the
buckets in an order permuted by the report's key (a Feistel network over the bucket numbers,
cycle-walked onto the range) and orders the patients of a bucket by a keyed hash of their
public id. A page therefore reads the one or two buckets it needs through an index, whatever
the population, and the order still differs from report to report and is stable within one.
The within-bucket key is not the pseudonym, so bucket boundaries do not show in a page.
"""

from __future__ import annotations

import hashlib
import hmac

from models.people import SHUFFLE_BITS

BUCKET = 256
"""Patients per bucket aimed at: a page of up to 100 mostly lies in one or two buckets."""
_ROUNDS = 4


def bucket_bits(sample: list[int]) -> int:
    """Bits of bucket number for a report whose lowest shuffle values are `sample` (sorted,
    at most one more than the report has): from their spread the report's size is known
    closely enough without counting it."""
    if len(sample) <= BUCKET:
        return 0
    estimate = len(sample) * (1 << SHUFFLE_BITS) // (sample[-1] + 1)
    return min(max(estimate // BUCKET, 1).bit_length() - 1, SHUFFLE_BITS)


def span(key: bytes, bits: int, position: int) -> tuple[int, int]:
    """The shuffle values [low, high] of the report's `position`th bucket (inclusive: the
    last bucket's end is past a 32-bit integer)."""
    number = _permute(key, bits, position)
    width = SHUFFLE_BITS - bits
    return number << width, ((number + 1) << width) - 1


def order_key(key: bytes, public_id: str) -> str:
    return hmac.digest(key, b"order|" + public_id.encode(), hashlib.sha256).hex()


def _permute(key: bytes, bits: int, position: int) -> int:
    if bits == 0:
        return 0
    half = (bits + 1) // 2
    value = position
    while True:  # cycle walking: the network permutes 2 * half bits, at most one more
        value = _feistel(key, bits, half, value)
        if value < 1 << bits:
            return value


def _feistel(key: bytes, bits: int, half: int, value: int) -> int:
    mask = (1 << half) - 1
    left, right = value >> half, value & mask
    for round_ in range(_ROUNDS):
        message = f"bucket|{bits}|{round_}|{right}".encode()
        mixed = int.from_bytes(hmac.digest(key, message, hashlib.sha256)[:8], "big") & mask
        left, right = right, left ^ mixed
    return (left << half) | right
