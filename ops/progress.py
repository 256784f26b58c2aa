"""A plain-text progress bar on stderr (no dependency): redrawn in place on a terminal, one line
per tenth of the work otherwise (logs and CI stay readable), with the rate so far and the time
left at that rate."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

WIDTH = 30


def _clock() -> float:
    return time.monotonic()


class Progress:
    def __init__(
        self,
        label: str,
        total: int,
        stream: TextIO | None = None,
        unit: str = "records",
        clock: Callable[[], float] = _clock,
    ) -> None:
        self._label = label
        self._total = total
        self._done = 0
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty()
        self._last_tenth = -1
        self._unit = unit
        self._clock = clock
        self._started = clock()

    def advance(self, count: int) -> None:
        self._done += count
        tenth = self._done * 10 // max(self._total, 1)
        if self._tty or tenth != self._last_tenth:
            self._last_tenth = tenth
            self._draw()

    def close(self) -> None:
        if self._tty:
            self._stream.write("\n")
        self._stream.flush()

    def rate(self) -> str:
        """`1234 records/s, ETA 0:42` (the ETA at the rate so far); "" in the first second,
        when there is no rate to speak of yet."""
        elapsed = self._clock() - self._started
        if elapsed < 1 or self._done == 0:
            return ""
        per_second = self._done / elapsed
        left = int(max(self._total - self._done, 0) / per_second)
        return f"{per_second:.0f} {self._unit}/s, ETA {left // 60}:{left % 60:02d}"

    def _draw(self) -> None:
        total = max(self._total, self._done, 1)
        filled = WIDTH * self._done // total
        bar = "#" * filled + "-" * (WIDTH - filled)
        line = f"{self._label} [{bar}] {self._done}/{self._total}"
        if rate := self.rate():
            line += f"  {rate}"
        self._stream.write(f"\r{line}" if self._tty else f"{line}\n")
        self._stream.flush()
