"""Who works on which cases, and a valid body for each action given the case as just read."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from tests.projections.projection_support import CST

Json = dict[str, Any]

# The staff of tests/projections' organisation (make_org), by the center whose cases they work.
STAFF = {
    "cg-a": ("clerk", "clerk", "mia", "mo", "mia", "mo", "sup", "city_sup"),
    "dz": ("dz_clerk", "dz_clerk", "dawa", "dawa", "dz_sup", "city_sup"),
}
MEDIATORS = {"cg-a": ("mia", "mo"), "dz": ("dawa",)}
REGISTRARS = (("clerk", None), ("clerk", None), ("dz_clerk", None), ("sup", "cg-a"))
PEOPLE = (
    ("བསྟན་འཛིན་", "13800000001", "540102199001011234"),
    ("王五", "13900000002", None),
    ("Dawa", None, None),
    ("李四", None, "540102198802023456"),
    ("Pema", "13700000003", None),
)

# Actions that move a case on are tried more often than the rest; those that end it, seldom.
WEIGHTS = {
    "accept": 8,
    "route": 8,
    "record_consent": 12,
    "reach_agreement": 6,
    "record_follow_up": 6,
    "close": 6,
    "receive_transfer": 5,
    "record_session": 3,
    "schedule_session": 2,
    "reopen": 3,
    "return_transfer": 1,
    "transfer": 1,
    "reject": 0.3,
    "withdraw": 0.3,
    "terminate": 0.5,
    "add_note": 0.4,
    "attach_document": 0.3,
}
OTHERWISE = 1.0

# The event each action records: what the log must show for an acknowledged action.
EVENT_OF = {
    "register": "Registered",
    "amend": "Amended",
    "grade_risk": "RiskGraded",
    "accept": "Accepted",
    "reject": "Rejected",
    "route": "Routed",
    "transfer": "TransferOffered",
    "receive_transfer": "TransferReceived",
    "return_transfer": "TransferReturned",
    "record_consent": "ConsentRecorded",
    "assign_mediator": "MediatorAssigned",
    "schedule_session": "SessionScheduled",
    "record_session": "SessionHeld",
    "extend_deadline": "DeadlineExtended",
    "reach_agreement": "AgreementReached",
    "terminate": "Terminated",
    "withdraw": "Withdrawn",
    "apply_judicially": "JudicialApplicationRecorded",
    "confirm_judicially": "JudicialConfirmationRecorded",
    "record_follow_up": "FollowUpRecorded",
    "close": "Closed",
    "reopen": "Reopened",
    "add_note": "NoteAdded",
    "attach_document": "DocumentAttached",
    "escalate": "Escalated",
    "supervise": "SupervisionInstructed",
    "answer_supervision": "SupervisionAnswered",
}


@dataclass(frozen=True)
class Move:
    action: str
    body: Json


def registration(rng: random.Random) -> tuple[str, Json]:
    """Who registers, and the body: a few recurring people, so repeat disputes happen."""
    user, center = rng.choice(REGISTRARS)
    applicant, respondent = rng.sample(PEOPLE, 2)
    body: Json = {
        "dispute_type": rng.choice(("neighbour", "labour", "family", "land")),
        "channel": rng.choice(("window", "hotline", "grid", "online")),
        "complexity": rng.choice(("simple", "general", "complex")),
        "risk": rng.choices(("low", "medium", "high", "red"), (20, 5, 3, 1))[0],
        "summary": f"邻里纠纷 soak dispute {rng.randrange(10**6)}",
        "parties": [_party("applicant", applicant), _party("respondent", respondent)],
    }
    if center is not None:
        body["center"] = center
    return user, body


def _party(role: str, person: tuple[str, str | None, str | None]) -> Json:
    name, phone, id_number = person
    return {"role": role, "name": name, "phone": phone, "id_number": id_number}


def choose(rng: random.Random, case: Json, user: str, actions: list[Json]) -> Move | None:
    """A random action among those offered and not blocked, with a body valid for `case`."""
    offered = [a["action"] for a in actions if a.get("blocked_by") is None]
    mediator = case["mediator"]
    if mediator is not None and mediator != user and user in _all_mediators():
        # At the version read (the one If-Match names) only the case's own mediator may do
        # more; the list, read just after, may already be of a newer version.
        offered = [a for a in offered if a == "add_note"]
    candidates = [(a, body) for a in offered if (body := _body(rng, a, case)) is not None]
    if not candidates:
        return None
    weights = [WEIGHTS.get(action, OTHERWISE) for action, _body_ in candidates]
    action, body = rng.choices(candidates, weights)[0]
    return Move(action, body)


def _body(rng: random.Random, action: str, case: Json) -> Json | None:
    """The body of `action` for `case`; None when no body would be valid now."""
    party_ids = [p["id"] for p in case["parties"]]
    today = datetime.now(CST).date()
    match action:
        case "route":
            return {"mediator": rng.choice(MEDIATORS[case["center"]])}
        case "receive_transfer":
            return rng.choice(({}, {"mediator": rng.choice(MEDIATORS[case["center"]])}))
        case "assign_mediator":
            others = [m for m in MEDIATORS[case["center"]] if m != case["mediator"]]
            return {"mediator": others[0], "reason": "recusal"} if others else None
        case "record_consent":
            missing = [p for p in party_ids if p not in case["consents"]]
            party = rng.choice(missing or party_ids)
            return {"party": party, "consent": rng.random() > 0.03, "note": "同意调解"}
        case "reach_agreement":
            return {"terms": "赔偿 800 元 pay 800 yuan", "signed_by": party_ids}
        case "extend_deadline":
            return {"days": 10, "reason": "more time", "consented_by": party_ids}
        case "apply_judicially":
            return {"court": "城关区人民法院"} if case["agreement"] is not None else None
        case "confirm_judicially":
            return _confirmation(case, today)
        case "close":
            follow_ups = case["follow_ups"]
            performed = bool(follow_ups) and follow_ups[-1].get("performed", False)
            return {"outcome": "resolved" if performed else "breached"}
        case "supervise":
            return {"instruction": "督办 hurry up", "due": (today + timedelta(days=3)).isoformat()}
        case "answer_supervision":
            waiting = [n for n, s in enumerate(case["supervisions"], 1) if "answer" not in s]
            return {"number": waiting[0], "answer": "已办理 done"} if waiting else None
        case _:
            return _plain_body(rng, action, today)


def _plain_body(rng: random.Random, action: str, today: date) -> Json:
    """Bodies that do not depend on the case."""
    at = datetime.combine(today + timedelta(days=2), datetime.min.time(), CST)
    bodies: dict[str, Json] = {
        "amend": rng.choice(
            ({"summary": "amended summary 修改"}, {"dispute_type": "family"}, {"place": "八廓街"})
        ),
        "grade_risk": {"risk": rng.choices(("low", "medium", "high", "red"), (6, 3, 2, 1))[0]},
        "accept": rng.choice(({}, {"note": "受理"})),
        "reject": {"reason": "not mediable"},
        "transfer": {"unit": "司法所 judicial office", "reason": "closer to the parties"},
        "return_transfer": {"reason": "not ours"},
        "schedule_session": {"at": at.isoformat(), "place": "调解室 1"},
        "record_session": {"summary": "双方同意 both sides talked"},
        "terminate": {"reason": "no deal", "referral": "litigation"},
        "withdraw": {"reason": "settled privately"},
        "record_follow_up": {"performed": rng.random() > 0.2, "notes": "回访"},
        "reopen": {"reason": "agreement breached"},
        "add_note": {"text": "a note ཟིན་ཐོ།"},
        "attach_document": {"title": "协议书", "reference": "doc-1", "media_type": "text/plain"},
        "escalate": {"reason": "slow"},
    }
    return bodies[action]


def _confirmation(case: Json, today: date) -> Json | None:
    if case["agreement"] is None:
        return None
    return {"court": "城关区人民法院", "decision": "confirmed", "date": today.isoformat()}


def _all_mediators() -> set[str]:
    return {m for names in MEDIATORS.values() for m in names}
