"""Cases over HTTP: every phase, reading the past, history, transfers, masking, idempotency."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mediation.bootstrap import Services
from tests.api.conftest import (
    APPLICANT,
    CASES,
    RESPONDENT,
    Json,
    act,
    auth,
    case_url,
    done,
    mark,
    mediating,
    register,
    registration,
)
from tests.support import FakeClock

TERMS = "王秀英于三月十日前赔偿二千元 ཟླ་བ་གསུམ་པའི་ཚེས་བཅུའི་སྔོན་ལ། compensation of 2000 yuan"
COURT = "拉萨市城关区人民法院"
LHASA = timezone(timedelta(hours=8))


@dataclass(frozen=True)
class Step:
    user: str
    action: str
    body: Json | None
    phase: str
    status: str
    event: str


WALK = (
    Step("clerk", "accept", None, "routing", "awaiting_routing", "Accepted"),
    Step("clerk", "route", {"mediator": "mia"}, "mediation", "mediating", "Routed"),
    Step(
        "mia",
        "record_consent",
        {"party": "p1", "consent": True, "note": "同意调解 མོས་མཐུན།"},
        "mediation",
        "mediating",
        "ConsentRecorded",
    ),
    Step(
        "mia",
        "record_consent",
        {"party": "p2", "consent": True},
        "mediation",
        "mediating",
        "ConsentRecorded",
    ),
    Step(
        "mia",
        "schedule_session",
        {"at": "2026-03-05T10:00:00+08:00", "place": "八廓街道调解室"},
        "mediation",
        "mediating",
        "SessionScheduled",
    ),
    Step(
        "mia",
        "record_session",
        {"summary": "双方陈述意见 ཕྱོགས་གཉིས་ཀྱིས་བསམ་ཚུལ་བཤད།"},
        "mediation",
        "mediating",
        "SessionHeld",
    ),
    Step(
        "mia",
        "extend_deadline",
        {"days": 15, "reason": "等待鉴定 awaiting an assessment", "consented_by": ["p1", "p2"]},
        "mediation",
        "mediating",
        "DeadlineExtended",
    ),
    Step(
        "mia",
        "reach_agreement",
        {"terms": TERMS, "signed_by": ["p1", "p2"]},
        "closure",
        "agreement_in_force",
        "AgreementReached",
    ),
    Step(
        "clerk",
        "confirm_judicially",
        {"court": COURT, "decision": "confirmed", "date": "2026-03-03"},
        "closure",
        "agreement_in_force",
        "JudicialConfirmationRecorded",
    ),
    Step(
        "mia",
        "record_follow_up",
        {"performed": True, "notes": "已履行 performed"},
        "closure",
        "agreement_in_force",
        "FollowUpRecorded",
    ),
    Step("clerk", "close", {"outcome": "resolved"}, "closure", "closed", "Closed"),
)


@dataclass(frozen=True)
class Walked:
    case_id: str
    moments: list[datetime]  # moments[n] is when version n + 1 was written


@pytest.fixture
def walked(client: TestClient, tokens: dict[str, str], clock: FakeClock) -> Walked:
    """One case walked through every phase, an hour between steps, checked at each step."""
    case = register(client, tokens["clerk"])
    assert (case["version"], case["phase"], case["status"]) == (1, "intake", "registered")
    moments = [clock.now()]
    for version, step in enumerate(WALK, start=2):
        moments.append(clock.advance(hours=1))
        result = done(act(client, tokens[step.user], case["id"], step.action, step.body))
        assert (result["version"], result["phase"], result["status"]) == (
            version,
            step.phase,
            step.status,
        ), step.action
    return Walked(case["id"], moments)


def read(client: TestClient, token: str, case_id: str, **params: Any) -> Json:
    response = client.get(case_url(case_id), headers=auth(token), params=params)
    assert response.status_code == 200, response.text
    body: Json = response.json()
    return body


def history(client: TestClient, token: str, case_id: str) -> list[Json]:
    response = client.get(case_url(case_id, "history"), headers=auth(token))
    assert response.status_code == 200, response.text
    entries: list[Json] = response.json()
    return entries


def deadline(case: Json, clock_name: str) -> Json:
    return next(d for d in case["deadlines"] if d["clock"] == clock_name)


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_a_case_walks_through_every_phase_and_reads_back_as_it_was(
    client: TestClient, tokens: dict[str, str], walked: Walked
) -> None:
    case = read(client, tokens["clerk"], walked.case_id)
    assert (case["version"], case["phase"], case["status"]) == (12, "closure", "closed")
    assert (case["outcome"], when(case["closed_at"])) == ("resolved", walked.moments[11])
    assert case["judicial_confirmation"]["court"] == COURT
    assert case["follow_ups"][0]["performed"] is True
    assert case["deadlines"] == []
    check_at_version_2(read(client, tokens["clerk"], walked.case_id, as_of_version=2))
    check_at_version_5(read(client, tokens["clerk"], walked.case_id, as_of_version=5))
    check_at_version_9(read(client, tokens["clerk"], walked.case_id, as_of_version=9))
    between = walked.moments[2] + timedelta(minutes=30)  # after routing, before any consent
    for moment in (between, between.astimezone(LHASA)):
        then = read(client, tokens["clerk"], walked.case_id, as_of=moment.isoformat())
        assert (then["version"], then["phase"], then["status"]) == (3, "mediation", "mediating")
        assert (then["mediator"], then["consents"]) == ("mia", {})
    exactly = read(client, tokens["clerk"], walked.case_id, as_of=walked.moments[8].isoformat())
    assert exactly["version"] == 9


def check_at_version_2(case: Json) -> None:
    assert (case["version"], case["phase"], case["status"]) == (2, "routing", "awaiting_routing")
    assert (case["mediator"], case["consents"]) == (None, {})
    assert [d["clock"] for d in case["deadlines"]] == ["routing"]


def check_at_version_5(case: Json) -> None:
    assert (case["phase"], case["status"], case["mediator"]) == ("mediation", "mediating", "mia")
    assert case["consents"] == {"p1": True, "p2": True}
    assert case["sessions"] == []
    assert deadline(case, "mediation")["extensions"] == 0


def check_at_version_9(case: Json) -> None:
    assert (case["phase"], case["status"]) == ("closure", "agreement_in_force")
    assert case["agreement"]["terms"] == TERMS
    assert case["agreement"]["signed_by"] == ["p1", "p2"]
    assert (case["judicial_confirmation"], case["follow_ups"], case["outcome"]) == (None, [], None)
    assert [s["held"] for s in case["sessions"]] == [True]


def test_reading_before_registration_is_not_found_and_a_naive_moment_unprocessable(
    client: TestClient, tokens: dict[str, str], walked: Walked
) -> None:
    url, headers = case_url(walked.case_id), auth(tokens["clerk"])
    before = (walked.moments[0] - timedelta(seconds=1)).isoformat()
    response = client.get(url, headers=headers, params={"as_of": before})
    assert response.status_code == 404, response.text
    naive = walked.moments[3].replace(tzinfo=None).isoformat()
    response = client.get(url, headers=headers, params={"as_of": naive})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", "as_of"]


def test_a_past_read_shows_deadlines_as_they_stood_then(
    client: TestClient, tokens: dict[str, str], clock: FakeClock
) -> None:
    case_id = mediating(client, tokens)  # mediation due 30 days after routing
    clock.advance(days=40)
    now = read(client, tokens["clerk"], case_id)
    assert deadline(now, "mediation")["overdue"] is True
    then = read(client, tokens["clerk"], case_id, as_of_version=3)
    assert deadline(then, "mediation")["overdue"] is False


def test_an_etag_read_is_the_if_match_that_acts_on_that_version(
    client: TestClient, tokens: dict[str, str]
) -> None:
    case_id = register(client, tokens["clerk"])["id"]
    etag = client.get(case_url(case_id), headers=auth(tokens["clerk"])).headers["ETag"]
    accepted = act(client, tokens["clerk"], case_id, "accept", if_match=etag)
    assert (done(accepted)["version"], accepted.headers["ETag"]) == (2, '"2"')


def test_the_history_lists_every_event_in_order_with_actor_and_statuses(
    client: TestClient, tokens: dict[str, str], walked: Walked
) -> None:
    entries = history(client, tokens["sup"], walked.case_id)
    assert [e["version"] for e in entries] == list(range(1, 13))
    assert [e["type"] for e in entries] == ["Registered", *(step.event for step in WALK)]
    assert [e["actor"]["user"] for e in entries] == ["clerk", *(step.user for step in WALK)]
    assert [when(e["at"]) for e in entries] == walked.moments
    statuses = ["registered", *(step.status for step in WALK)]
    assert [e["status_after"] for e in entries] == statuses
    assert [e["status_before"] for e in entries] == [None, *statuses[:-1]]
    assert entries[2]["data"]["mediator"] == "mia"
    assert entries[11]["data"]["outcome"] == "resolved"
    routed_at = walked.moments[2]
    assert when(entries[7]["data"]["due_at"]) == routed_at + timedelta(days=45)


def test_a_transfer_is_returned_then_offered_again_and_received(
    client: TestClient, tokens: dict[str, str]
) -> None:
    clerk = tokens["clerk"]
    case_id = register(client, clerk)["id"]
    done(act(client, clerk, case_id, "accept"))
    offer = {"unit": "城关区司法所 judicial office", "reason": "土地纠纷 land dispute"}
    offered = done(act(client, clerk, case_id, "transfer", offer))
    assert (offered["phase"], offered["status"]) == ("routing", "transfer_pending")
    assert offered["case"]["transfer"]["unit"] == offer["unit"]
    back = done(act(client, clerk, case_id, "return_transfer", {"reason": "不属管辖 not ours"}))
    assert (back["status"], back["case"]["transfer"]) == ("awaiting_routing", None)
    court = {"unit": "城关区人民法院诉前调解", "reason": "诉前调解 pre-suit mediation"}
    assert done(act(client, clerk, case_id, "transfer", court))["status"] == "transfer_pending"
    received = done(act(client, clerk, case_id, "receive_transfer", {"mediator": "mia"}))
    assert (received["version"], received["phase"], received["status"]) == (
        6,
        "mediation",
        "mediating",
    )
    assert (received["case"]["mediator"], received["case"]["transfer"]) == ("mia", None)
    entries = history(client, clerk, case_id)
    assert [e["type"] for e in entries][2:] == [
        "TransferOffered",
        "TransferReturned",
        "TransferOffered",
        "TransferReceived",
    ]
    assert entries[-1]["data"]["unit"] == court["unit"]


def test_a_rejected_dispute_closes_as_rejected(client: TestClient, tokens: dict[str, str]) -> None:
    case_id = register(client, tokens["clerk"])["id"]
    reason = {"reason": "已向法院起诉 already before a court"}
    rejected = done(act(client, tokens["clerk"], case_id, "reject", reason))
    assert (rejected["phase"], rejected["status"]) == ("closure", "closed")
    assert rejected["case"]["outcome"] == "rejected"
    assert rejected["case"]["closed_at"] is not None
    assert history(client, tokens["clerk"], case_id)[-1]["data"]["reason"] == reason["reason"]


def test_terminated_mediation_closes_as_referred_naming_the_referral(
    client: TestClient, tokens: dict[str, str]
) -> None:
    case_id = mediating(client, tokens, consented=True)
    body = {"reason": "调解不成 no agreement", "referral": "litigation"}
    ended = done(act(client, tokens["mia"], case_id, "terminate", body))
    assert (ended["phase"], ended["status"], ended["case"]["outcome"]) == (
        "closure",
        "closed",
        "referred",
    )
    assert history(client, tokens["mia"], case_id)[-1]["data"]["referral"] == "litigation"


def test_the_applicant_withdraws_during_mediation(
    client: TestClient, tokens: dict[str, str]
) -> None:
    case_id = mediating(client, tokens)
    body = {"reason": "申请人撤回 ཞུ་གཏུགས་བྱེད་མཁན་གྱིས་ཕྱིར་འཐེན།"}
    ended = done(act(client, tokens["mia"], case_id, "withdraw", body))
    assert (ended["status"], ended["case"]["outcome"]) == ("closed", "withdrawn")


def test_a_supervisor_reopens_a_closed_case_into_mediation(
    client: TestClient, tokens: dict[str, str], clock: FakeClock
) -> None:
    case_id = mediating(client, tokens, consented=True)
    body = {"reason": "调解不成", "referral": "none"}
    done(act(client, tokens["mia"], case_id, "terminate", body))
    reopened_at = clock.advance(days=3)
    reason = {"reason": "协议显失公平 the agreement was unfair"}
    reopened = done(act(client, tokens["sup"], case_id, "reopen", reason))
    assert (reopened["phase"], reopened["status"]) == ("mediation", "mediating")
    assert (reopened["case"]["outcome"], reopened["case"]["closed_at"]) == (None, None)
    assert reopened["case"]["mediator"] == "mia"
    assert when(deadline(reopened["case"], "mediation")["started_at"]) == reopened_at
    assert history(client, tokens["sup"], case_id)[-1]["actor"]["user"] == "sup"


def available(client: TestClient, token: str, case_id: str) -> dict[str, Json]:
    response = client.get(case_url(case_id, "actions"), headers=auth(token))
    assert response.status_code == 200, response.text
    return {entry["action"]: entry for entry in response.json()}


def test_the_actions_list_what_each_caller_may_do_now(
    client: TestClient, tokens: dict[str, str]
) -> None:
    case_id = mediating(client, tokens)
    mine = available(client, tokens["mia"], case_id)
    assert set(mine) == {
        "record_consent",
        "schedule_session",
        "record_session",
        "extend_deadline",
        "reach_agreement",
        "terminate",
        "withdraw",
        "add_note",
        "attach_document",
        "answer_supervision",  # blocked: no instruction to answer
    }
    assert mine["answer_supervision"]["blocked_by"] == "has_unanswered_supervision"
    assert mine["record_consent"]["blocked_by"] is None
    assert mine["schedule_session"]["blocked_by"] == "all_parties_consented"
    assert mine["schedule_session"]["rule"].startswith("PML art. 17")
    assert set(available(client, tokens["clerk"], case_id)) == {
        "grade_risk",
        "assign_mediator",
        "withdraw",
        "add_note",
        "attach_document",
        "answer_supervision",
    }
    assert set(available(client, tokens["mo"], case_id)) == {"add_note"}
    assert {"escalate", "supervise"} <= set(available(client, tokens["sup"], case_id))


def test_a_refusal_blocks_sessions_in_the_actions_list(
    client: TestClient, tokens: dict[str, str]
) -> None:
    case_id = mediating(client, tokens)
    done(act(client, tokens["mia"], case_id, "record_consent", {"party": "p2", "consent": False}))
    mine = available(client, tokens["mia"], case_id)
    assert mine["schedule_session"]["blocked_by"] == "no_party_refused"
    assert mine["terminate"]["blocked_by"] is None


def test_parent_center_supervisors_act_on_a_case_but_see_personal_data_masked(
    client: TestClient, tokens: dict[str, str]
) -> None:
    case_id = register(client, tokens["clerk"])["id"]
    for supervisor in ("sup", "city_sup"):
        seen = read(client, tokens[supervisor], case_id)
        assert seen["personal_data_masked"] is True
        applicant, respondent = seen["parties"]
        assert (applicant["name"], applicant["phone"], applicant["id_number"]) == (
            APPLICANT,
            "***",
            "***",
        )
        assert (respondent["phone"], respondent["id_number"]) == ("***", None)
        instruction = {"instruction": "三日内回复 reply within 3 days", "due": "2026-03-05"}
        supervised = act(client, tokens[supervisor], case_id, "supervise", instruction)
        logged = client.get(case_url(case_id, "history"), headers=auth(tokens[supervisor]))
        for response in (supervised, logged):
            assert response.status_code == 200, response.text
            # written any way (digits apart or together), not a chance run of a hash's hex
            assert not re.search(r"138\D{0,3}0891\D{0,3}0001", response.text), supervisor
            assert "540102199001011234" not in response.text, supervisor
        assert logged.json()[0]["data"]["parties"][0]["phone"] == "***"


def test_staff_of_the_cases_own_center_see_personal_data(
    client: TestClient, tokens: dict[str, str]
) -> None:
    case_id = register(client, tokens["clerk"])["id"]
    for staff in ("clerk", "mia"):
        seen = read(client, tokens[staff], case_id)
        assert seen["personal_data_masked"] is False
        assert seen["parties"][0]["phone"] == "138 0891 0001"
        assert seen["parties"][0]["id_number"] == "540102199001011234"


def test_a_retried_registration_with_an_idempotency_key_returns_the_first_case(
    client: TestClient, tokens: dict[str, str], services: Services
) -> None:
    headers = auth(tokens["clerk"]) | {"Idempotency-Key": "window-7-2026-03-02"}
    first = client.post(CASES, headers=headers, json=registration())
    after_first = mark(services)
    retry = client.post(CASES, headers=headers, json=registration())
    assert (first.status_code, retry.status_code) == (201, 201), retry.text
    assert retry.json()["id"] == first.json()["id"]
    assert "Idempotent-Replayed" not in first.headers
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert mark(services) == after_first
    assert int(first.headers["Log-Position"]) == after_first.log_head
    assert "Log-Position" not in retry.headers  # nothing new was written
    entries = history(client, tokens["clerk"], first.json()["id"])
    assert [e["type"] for e in entries] == ["Registered"]


def test_an_idempotency_key_reused_for_another_registration_is_refused(
    client: TestClient, tokens: dict[str, str], services: Services
) -> None:
    headers = auth(tokens["clerk"]) | {"Idempotency-Key": "window-7-2026-03-02"}
    first = client.post(CASES, headers=headers, json=registration())
    assert first.status_code == 201, first.text
    before = mark(services, first.json()["id"])
    other = client.post(CASES, headers=headers, json=registration(summary="另一起纠纷"))
    assert other.status_code == 422, other.text
    assert other.json()["detail"][0]["loc"] == ["header", "idempotency-key"]
    assert mark(services, first.json()["id"]) == before


def test_chinese_and_tibetan_text_round_trips(client: TestClient, tokens: dict[str, str]) -> None:
    summary = "宅基地边界纠纷 ས་ཞིང་གི་མཚམས་ཀྱི་རྩོད་གཞི། 𠮷"
    case_id = register(client, tokens["clerk"], summary=summary)["id"]
    note = "当事人拒接电话 ཁ་པར་མ་ལེན། — 🙏"
    done(act(client, tokens["clerk"], case_id, "add_note", {"text": note}))
    case = read(client, tokens["clerk"], case_id)
    assert case["summary"] == summary
    assert [p["name"] for p in case["parties"]] == [APPLICANT, RESPONDENT]
    assert case["notes"][0]["text"] == note
    entries = history(client, tokens["clerk"], case_id)
    assert entries[0]["data"]["summary"] == summary
    assert entries[1]["data"]["text"] == note


def test_a_supervision_instruction_is_answered_once_by_its_number(
    client: TestClient, tokens: dict[str, str]
) -> None:
    case_id = mediating(client, tokens)
    for text in ("三日内报告进展 report within three days", "约谈双方 meet both parties"):
        done(
            act(
                client,
                tokens["sup"],
                case_id,
                "supervise",
                {"instruction": text, "due": "2026-03-05"},
            )
        )

    def answer(number: int, text: str) -> Any:
        body = {"number": number, "answer": text}
        return act(client, tokens["mia"], case_id, "answer_supervision", body)

    first = answer(1, "已约谈双方")
    again, beyond = answer(1, "again"), answer(3, "?")
    second = answer(2, "已报告")
    none_left = answer(2, "once more")
    case = client.get(case_url(case_id), headers=auth(tokens["clerk"])).json()

    assert (first.status_code, second.status_code) == (200, 200), first.text
    for refused, reason in ((again, "answered already"), (beyond, "has 2 supervision")):
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["loc"] == ["body", "number"]
        assert reason in refused.json()["detail"][0]["msg"]
    assert none_left.status_code == 409  # nothing awaits an answer: the guard says so
    assert [(s["answer"], s["answered_by"]) for s in case["supervisions"]] == [
        ("已约谈双方", "mia"),
        ("已报告", "mia"),
    ]
