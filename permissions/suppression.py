"""Small-cell suppression for aggregate tables.

Primary: a cell counting fewer than `THRESHOLD` patients is withheld (zero cells are simply
absent). Complementary: a withheld cell must not be derivable by subtraction from a total that
can be had elsewhere. Every margin of the table is such a total (the table's own total, and for
each subset of its dimensions the sums another query grouped by that subset would return), so
for every margin group the rule is: if its withheld cells are exactly one, or add up to fewer
than `THRESHOLD`, the smallest cell still shown in that group is withheld too; repeated until no
group breaks it. A subtraction then yields at best the sum of two or more withheld cells, and
never a sum below the threshold.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from itertools import combinations

THRESHOLD = 11

Key = tuple[str, ...]


def _margin_groups(keys: Iterable[Key], width: int) -> list[list[Key]]:
    """For every proper subset of dimensions (the empty one being the grand total), the cells
    grouped by their values on that subset. Narrowest margins first: a cell withheld for one of
    them often settles the wider ones too, so fewer cells are withheld in all."""
    keys = list(keys)
    groups: list[list[Key]] = []
    for size in reversed(range(width)):
        for kept in combinations(range(width), size):
            grouped: dict[Key, list[Key]] = defaultdict(list)
            for key in keys:
                grouped[tuple(key[i] for i in kept)].append(key)
            groups.extend(group for group in grouped.values() if len(group) > 1)
    return groups


def _breaks_rule(hidden: list[int]) -> bool:
    return len(hidden) == 1 or 0 < sum(hidden) < THRESHOLD


def suppress(counts: Mapping[Key, int], width: int) -> frozenset[Key]:
    """The keys to withhold from a table of `width` dimensions."""
    withheld = {key for key, count in counts.items() if count < THRESHOLD}
    groups = _margin_groups(counts, width)
    changed = True
    while changed:
        changed = False
        for group in groups:
            hidden = [counts[key] for key in group if key in withheld]
            shown = [key for key in group if key not in withheld]
            if hidden and shown and _breaks_rule(hidden):
                withheld.add(min(shown, key=lambda key: (counts[key], key)))
                changed = True
    return frozenset(withheld)
