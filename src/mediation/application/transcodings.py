"""How the value types of events and snapshots are written to and read from the store."""

from __future__ import annotations

from datetime import date
from typing import Any

from eventsourcing.persistence import Transcoding

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
