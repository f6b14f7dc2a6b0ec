"""How the value types of events and snapshots are written to and read from the store."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

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


_ROLES = {role.value: role for role in Role}
_PARTY_ROLES = {role.value: role for role in PartyRole}


class CaseTranscoder(JSONTranscoder):
    """The library's JSON transcoder, decoding the values every event carries on a short path.

    Its generic object hook looks each `{"_type_", "_data_"}` object up by name and calls the
    transcoding's `decode`; moments, actors and parties (eight or nine per event) are decoded
    here directly instead, which takes a quarter off reading the log (`bench/`). Any other name
    goes the generic way. `tests/application/test_transcodings.py` checks that both decode
    stored events and snapshots alike.
    """

    def _decode_obj(self, d: dict[str, Any]) -> Any:
        if len(d) != 2 or "_type_" not in d or "_data_" not in d:
            return d
        name, data = d["_type_"], d["_data_"]
        if name == "datetime_iso" and type(data) is str:
            return datetime.fromisoformat(data)
        if name == "actor":
            return Actor(
                data["user"], _ROLES.get(data["role"]) or Role(data["role"]), data["center"]
            )
        if name == "party":
            role = _PARTY_ROLES.get(data["role"]) or PartyRole(data["role"])
            return Party(data["id"], role, data["name"], data["phone"], data["id_number"])
        return super()._decode_obj(d)
