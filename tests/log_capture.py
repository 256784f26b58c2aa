"""Captures what phigate's log configuration would write, as JSON lines, for a scan."""

from __future__ import annotations

import contextlib
import io
import logging
import logging.config
from collections.abc import Iterator

from api.log_config import log_config
from api.settings import LogFormat, LogLevel

CONFIGURED = ("", "phigate", "uvicorn.error")
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
