"""Opaque pagination cursors: the sort key of the last row of a page, base64-encoded."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from mediation.domain.errors import InvalidFieldError


def encode(kind: str, *key: Any) -> str:
    raw = json.dumps([kind, *key], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(kind: str, cursor: str, arity: int) -> list[Any]:
    """The key encoded in a cursor of this kind; InvalidFieldError for anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidFieldError("cursor", "is not a cursor this service gave") from None
    if not isinstance(value, list) or len(value) != arity + 1 or value[0] != kind:
        raise InvalidFieldError("cursor", "is not a cursor of this list")
    return value[1:]
