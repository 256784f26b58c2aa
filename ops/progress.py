"""A plain-text progress bar on stderr (no dependency): redrawn in place on a terminal, one line
per tenth of the work otherwise (logs and CI stay readable)."""

from __future__ import annotations

import sys
from typing import TextIO

WIDTH = 30


class Progress:
    def __init__(self, label: str, total: int, stream: TextIO | None = None) -> None:
        self._label = label
        self._total = total
        self._done = 0
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty()
        self._last_tenth = -1

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

    def _draw(self) -> None:
        total = max(self._total, self._done, 1)
        filled = WIDTH * self._done // total
        bar = "#" * filled + "-" * (WIDTH - filled)
        line = f"{self._label} [{bar}] {self._done}/{self._total}"
        self._stream.write(f"\r{line}" if self._tty else f"{line}\n")
        self._stream.flush()
