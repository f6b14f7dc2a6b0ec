"""Re-disputes across the parts of a rebuild split by case (see `rebuild.load_part`).

A new case is a re-dispute when one of its parties is, at that moment, a party of another
case that is closed. That other case may sit in another part, which another process applies,
so a part does not decide; it notes, for its cases, when their party keys were set and when
they closed or opened again, and once every part is in, `re_disputes` decides for all of them
exactly as the fold would have, event by event.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

V = TypeVar("V")


@dataclass
class PartNotes:
    """What one part's cases did that the re-disputes of all cases depend on. A case is
    named by its id's number (`UUID.int`): the notes of a part in a process of its own are
    sent to the rebuilding one, and numbers cross faster than UUID objects."""

    # (position, case, its party keys from then on, whether this is its registration)
    keys: list[tuple[int, int, tuple[str, ...], bool]] = field(default_factory=list)
    # (position, case, whether it is closed from then on): only where that changed
    closed: list[tuple[int, int, bool]] = field(default_factory=list)


class _Timeline(Generic[V]):
    """A value of one case that changes at some positions, added in their order (a case is
    in one part, which notes it as it folds the log): the value in force just before a
    position (each position holds one event, so no other case changes at it)."""

    def __init__(self) -> None:
        self.positions: list[int] = []
        self.values: list[V] = []

    def add(self, position: int, value: V) -> None:
        self.positions.append(position)
        self.values.append(value)

    def before(self, position: int, default: V) -> V:
        index = bisect_left(self.positions, position)
        return default if index == 0 else self.values[index - 1]


def re_disputes(parts: Sequence[PartNotes]) -> list[int]:
    """The positions of the registrations that are re-disputes, in order.

    Only cases that share a party key with another case, at any time, can be one or make
    one: the timelines are built for those alone (most parties come once).
    """
    cases_by_key: dict[str, set[int]] = {}
    for notes in parts:
        for _position, case_id, case_keys, _registering in notes.keys:
            for key in case_keys:
                cases_by_key.setdefault(key, set()).add(case_id)
    shared = {case_id for ids in cases_by_key.values() if len(ids) > 1 for case_id in ids}
    keys: dict[int, _Timeline[frozenset[str]]] = {}
    closed: dict[int, _Timeline[bool]] = {}
    registrations: list[tuple[int, int, tuple[str, ...]]] = []
    for notes in parts:
        for position, case_id, case_keys, registering in notes.keys:
            if case_id in shared:
                keys.setdefault(case_id, _Timeline()).add(position, frozenset(case_keys))
                if registering:
                    registrations.append((position, case_id, case_keys))
        for position, case_id, is_closed in notes.closed:
            if case_id in shared:
                closed.setdefault(case_id, _Timeline()).add(position, is_closed)
    found = []
    for position, case_id, case_keys in sorted(registrations):
        if _shares_party_with_closed_case(position, case_id, case_keys, keys, closed, cases_by_key):
            found.append(position)
    return found


def _shares_party_with_closed_case(
    position: int,
    case_id: int,
    case_keys: Sequence[str],
    keys: dict[int, _Timeline[frozenset[str]]],
    closed: dict[int, _Timeline[bool]],
    cases_by_key: dict[str, set[int]],
) -> bool:
    for key in case_keys:
        for other in cases_by_key[key]:
            if other == case_id:
                continue
            if key not in keys[other].before(position, frozenset()):
                continue  # not its party at that moment
            timeline = closed.get(other)
            if timeline is not None and timeline.before(position, False):
                return True
    return False
