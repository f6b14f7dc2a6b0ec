"""How the value types of events and snapshots are written to and read from the store."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any, TypeVar

import orjson
from eventsourcing.persistence import JSONTranscoder, Transcoding

from mediation.domain.values import Actor, Party, PartyRole, Role


class ActorAsDict(Transcoding):
    type = Actor
    name = "actor"

    def encode(self, obj: Actor) -> dict[str, str]:
        return {"user": obj.user, "role": str(obj.role), "center": obj.center}

    def decode(self, data: dict[str, str]) -> Actor:
        return Actor(user=data["user"], role=Role(data["role"]), center=data["center"])


class PartyAsDict(Transcoding):
    type = Party
    name = "party"

    def encode(self, obj: Party) -> dict[str, Any]:
        return {
            "id": obj.id,
            "role": str(obj.role),
            "name": obj.name,
            "phone": obj.phone,
            "id_number": obj.id_number,
        }

    def decode(self, data: dict[str, Any]) -> Party:
        return Party(
            id=data["id"],
            role=PartyRole(data["role"]),
            name=data["name"],
            phone=data["phone"],
            id_number=data["id_number"],
        )


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


TRANSCODINGS = (ActorAsDict(), PartyAsDict(), DateAsISO())


E = TypeVar("E", bound=Enum)

# orjson reads an integer literal from 2**63 on as a float, silently; a float that large in
# its result goes to the standard parser, which reads the integer (or the float) exactly.
_INTEGERS_AS_FLOATS = 2.0**63


class _IntegerAsFloatError(Exception):
    pass


_ROLES = {role.value: role for role in Role}
_PARTY_ROLES = {role.value: role for role in PartyRole}


# Actors revived lately, by their stored fields: a center's few hundred users act again and
# again, and an actor is immutable, so the events that name one may share it (making one, a
# frozen dataclass, took ten times as long as finding it).
ACTORS_KEPT = 4096


class CaseTranscoder(JSONTranscoder):
    """The library's JSON transcoder (same stored form), decoding faster.

    Reading is what a rebuild of the views and every load of a case spend most on: the text is
    parsed by orjson (measured on stored events: it parses in half the standard parser's time;
    decoding, object hook included, takes about a fifth less), and the
    `{"_type_", "_data_"}` objects are then turned into values inner first, as the standard
    parser's object hook does; moments, actors and parties (eight or nine per event) directly,
    any other name the library's generic way. What orjson refuses and the standard parser
    reads (NaN, huge exponents) goes to the standard parser, and so does a text whose numbers
    orjson would read differently (see _INTEGERS_AS_FLOATS).
    `tests/application/test_transcodings.py` checks that both decode anything alike.
    """

    def __init__(self) -> None:
        super().__init__()
        self._actors: dict[tuple[str, str, str], Actor] = {}

    def decode(self, data: bytes) -> Any:
        try:
            parsed = orjson.loads(data)
            if type(parsed) is dict or type(parsed) is list:
                return self._revive(parsed)
            if type(parsed) is float and abs(parsed) >= _INTEGERS_AS_FLOATS:
                raise _IntegerAsFloatError
            return parsed
        except (orjson.JSONDecodeError, _IntegerAsFloatError):
            return super().decode(data)

    def _revive(self, value: Any) -> Any:  # a dict or a list from orjson
        """Turn the transcoded objects in parsed JSON into values, inner first."""
        if type(value) is dict:
            return self._decode_obj(self._revive_values(value))
        revived = []
        for item in value:
            kind = type(item)
            if kind is dict or kind is list:
                item = self._revive_one(item)
            elif kind is float and abs(item) >= _INTEGERS_AS_FLOATS:
                raise _IntegerAsFloatError
            revived.append(item)
        return revived

    def _revive_one(self, item: Any) -> Any:
        """A dict or a list inside another: a moment, an actor or a party (most of the
        objects) without a call per level, when its data holds nothing to revive; a plain dict
        (a case's clocks) revived in place, with no look for an object in it, which only a
        dict of two keys, one of them `_type_`, can be; an empty one as it is; anything else
        as above. (The bench's case events: 6.7 us each instead of 6.9, orjson's 1.7 of it.)"""
        if type(item) is list:
            return self._revive(item) if item else item
        if len(item) == 2 and "_type_" in item:
            name, data = item["_type_"], item.get("_data_")
            if name == "datetime_iso":
                if type(data) is str:
                    return datetime.fromisoformat(data)
            elif (name == "actor" or name == "party") and type(data) is dict and _flat(data):
                return self._decode_obj(item)
            return self._revive(item)
        return self._revive_values(item)

    def _revive_values(self, item: dict[str, Any]) -> dict[str, Any]:
        """The dict with its values revived, in place."""
        for key, value in item.items():
            kind = type(value)
            if kind is dict or kind is list:
                item[key] = self._revive_one(value)
            elif kind is float and abs(value) >= _INTEGERS_AS_FLOATS:
                raise _IntegerAsFloatError
        return item

    def _decode_obj(self, d: dict[str, Any]) -> Any:
        if len(d) != 2 or "_type_" not in d or "_data_" not in d:
            return d
        name, data = d["_type_"], d["_data_"]
        if name == "datetime_iso" and type(data) is str:
            return datetime.fromisoformat(data)
        if name == "actor":
            return self._actor(data["user"], data["role"], data["center"])
        if name == "party":
            return Party(
                data["id"],
                _enum(_PARTY_ROLES, PartyRole, data["role"]),
                data["name"],
                data["phone"],
                data["id_number"],
            )
        return super()._decode_obj(d)

    def _actor(self, user: Any, role: Any, center: Any) -> Actor:
        """The actor of these stored fields: one made before when they are text (see
        ACTORS_KEPT), else a new one (what is wrong with them, the class's checks tell)."""
        if type(user) is not str or type(role) is not str or type(center) is not str:
            return Actor(user, _enum(_ROLES, Role, role), center)
        key = (user, role, center)
        found = self._actors.get(key)
        if found is None:
            found = Actor(user, _enum(_ROLES, Role, role), center)
            if len(self._actors) >= ACTORS_KEPT:
                self._actors.clear()
            self._actors[key] = found
        return found


def _flat(data: dict[str, Any]) -> bool:
    """Whether a dict's values are all text or null and it is no object itself: nothing in it
    to revive."""
    if "_type_" in data:
        return False
    for value in data.values():  # noqa: SIM110 - a loop: all() over a generator costs more here
        if value is not None and type(value) is not str:
            return False
    return True


def _enum(members: dict[str, E], kind: type[E], value: Any) -> E:
    """A member by its value: a dict lookup for the stored form, else the enum's own check."""
    found = members.get(value) if type(value) is str else None
    return found if found is not None else kind(value)
