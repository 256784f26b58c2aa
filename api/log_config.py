"""How `phigate serve` logs: plain text or JSON lines (`PHIGATE_LOG_FORMAT`), at
`PHIGATE_LOG_LEVEL`, every line naming the request it was written for.

`PHIGATE_LOG_LEVEL` applies to phigate's own loggers and uvicorn's server log. Other
libraries log their warnings and errors only, whatever the level: Tortoise logs each statement
with its bound values at DEBUG, which must never reach a log.
"""

from __future__ import annotations

import contextvars
import logging
from typing import Any

from api.settings import LogFormat, LogLevel

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "phigate_request_id", default=None
)
"""The id of the request being served (api/headers.py sets it), for every line logged for it."""

JSON_FORMAT: dict[str, Any] = {
    "fmt": "{levelname}{name}{message}{request_id}",
    "style": "{",
    "rename_fields": {"levelname": "level", "name": "logger"},
    "timestamp": "time",
}
"""python-json-logger's JsonFormatter: time, level, logger, message, request_id, then what a
line passes in `extra` (the access log: method, route, status, duration_ms, principal)."""
OWN_LOGGERS = ("phigate", "uvicorn.error")
"""The loggers `PHIGATE_LOG_LEVEL` applies to; every other logger logs warnings and errors."""


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record that has none (the access log passes its own)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get() or "-"
        return True


def log_config(log_format: LogFormat, level: LogLevel) -> dict[str, Any]:
    """A `logging.config.dictConfig` configuration (uvicorn's `log_config` too)."""
    formatters: dict[str, dict[str, Any]] = {
        LogFormat.TEXT: {
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s request_id=%(request_id)s"
        },
        LogFormat.JSON: {"()": "pythonjsonlogger.json.JsonFormatter", **JSON_FORMAT},
    }
    name = level.value.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"phigate": formatters[log_format]},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "phigate",
                "filters": ["request_id"],
            }
        },
        "loggers": {
            logger: {"handlers": ["stderr"], "level": name, "propagate": False}
            for logger in OWN_LOGGERS
        },
        # Other libraries' warnings and errors, in the same format (what Python's last-resort
        # handler would print unformatted).
        "root": {"handlers": ["stderr"], "level": "WARNING"},
    }
