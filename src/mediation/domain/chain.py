"""Tamper evidence: each event carries the digest of the one before, so edits break the chain."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import date, datetime
from typing import Any
from uuid import UUID

GENESIS = ""


def json_default(value: Any) -> Any:
    """The standard JSON encoder's `default=` for the domain's values: moments and dates as ISO
    text, UUIDs as text, dataclasses as objects of their fields."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # One level only: the encoder comes back here for nested values. Gives the JSON of
        # dataclasses.asdict (which the stored chains were made with) without its deep copy.
        return {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def digest(event: object) -> str:
    """SHA-256 of the event's type and every field, in a canonical JSON form."""
    body = {"type": type(event).__qualname__, **vars(event)}
    text = json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=json_default
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
