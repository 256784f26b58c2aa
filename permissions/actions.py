"""What kind of write a change is: the event its audit record names (audit/writes.py), and
what the report tally takes in as changes (ops/tally.py)."""

from __future__ import annotations

from enum import StrEnum


class WriteAction(StrEnum):
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    AMEND = "AMEND"


WRITE_EVENTS = tuple(action.value for action in WriteAction)
