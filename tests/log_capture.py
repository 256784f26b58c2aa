"""Captures what phigate's log configuration would write, as JSON lines, for a scan."""

from __future__ import annotations

import contextlib
import io
import logging
import logging.config
from collections.abc import Iterable, Iterator

from pythonjsonlogger.json import JsonFormatter

from api.log_config import JSON_FORMAT, OWN_LOGGERS, RequestIdFilter, log_config
from api.settings import LogFormat, LogLevel
from tests.world import CHILD, CLINICAL, OTHER, OWN, PASSWORD

CONFIGURED = ("", *OWN_LOGGERS)
"""The root logger and the loggers log_config gives a handler."""


@contextlib.contextmanager
def captured_logs(level: LogLevel = LogLevel.DEBUG) -> Iterator[io.StringIO]:
    """phigate's JSON log configuration at `level`, its handler writing into the buffer
    yielded; the loggers are put back as they were afterwards."""
    loggers = [logging.getLogger(name) for name in CONFIGURED]
    saved = [(lg.handlers[:], lg.level, lg.propagate, lg.disabled) for lg in loggers]
    buffer = io.StringIO()
    logging.config.dictConfig(log_config(LogFormat.JSON, level))
    for handler in {h for lg in loggers for h in lg.handlers}:
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(buffer)
    try:
        yield buffer
    finally:
        for lg, (handlers, lvl, propagate, disabled) in zip(loggers, saved, strict=True):
            lg.handlers[:] = handlers
            lg.setLevel(lvl)
            lg.propagate, lg.disabled = propagate, disabled


class LeakScan(logging.Handler):
    """Formats every record phigate's configuration would write (its own loggers at any level,
    others' warnings and errors) as the JSON line it would be, and notes each that holds one of
    `needles`: by logger and value, so a failure's report is not itself a leak."""

    def __init__(self, needles: Iterable[str]) -> None:
        super().__init__(logging.DEBUG)
        self.needles = frozenset(needles)
        self.leaks: list[str] = []
        self.lines = 0
        self.setFormatter(JsonFormatter(**JSON_FORMAT))
        self.addFilter(RequestIdFilter())

    def emit(self, record: logging.LogRecord) -> None:
        own = record.name.split(".")[0] == "phigate" or record.name == "uvicorn.error"
        if not own and record.levelno < logging.WARNING:
            return
        line = self.format(record)
        self.lines += 1
        self.leaks += [f"{record.name}: {n[:3]}..." for n in self.needles if n in line]


@contextlib.contextmanager
def scanning(scan: LeakScan) -> Iterator[LeakScan]:
    """`scan` sees every record from here on; phigate's loggers log DEBUG meanwhile."""
    own = logging.getLogger("phigate")
    root, level = logging.getLogger(), own.level
    own.setLevel(logging.DEBUG)
    root.addHandler(scan)
    try:
        yield scan
    finally:
        root.removeHandler(scan)
        own.setLevel(level)


def world_values() -> set[str]:
    """tests/world.py's PHI values and password. Five characters or fewer (a ZIP code, "7.3")
    also occur by chance in ids and durations, so they are left out."""
    values = {v for person in (OWN, OTHER, CHILD) for v in person.values()}
    values |= {v for kind in CLINICAL.values() for v in kind.values()}
    return {v for v in values if len(v) > 5} | {PASSWORD}
