"""One test per error status of the API; each checks that nothing was written."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from mediation.bootstrap import Services
from tests.api.conftest import (
    CASES,
    Json,
    act,
    auth,
    case_url,
    done,
    mark,
    mediating,
    post_json,
    register,
    registration,
)

PML_ART_17 = "PML art. 17"


def test_a_request_without_a_valid_bearer_token_is_unauthorized(
    client: TestClient, tokens: dict[str, str], services: Services
) -> None:
    case_id = register(client, tokens["clerk"])["id"]
    before = mark(services, case_id)
    for authorization in (
        None,
        "Bearer med_not-a-token",  # unknown
        "Bearer",  # the scheme alone
        "Basic Y2xlcms6c2VjcmV0",  # another scheme
        tokens["clerk"],  # a real token without its scheme
    ):
        headers = {} if authorization is None else {"Authorization": authorization}
        for response in (
            client.post(case_url(case_id, "actions", "accept"), headers=headers),
            client.post(CASES, headers=headers, json=registration()),
            client.get(case_url(case_id), headers=headers),
        ):
            assert response.status_code == 401, (authorization, response.text)
            assert response.headers["WWW-Authenticate"] == "Bearer"
    assert mark(services, case_id) == before


def test_staff_of_another_center_may_neither_read_nor_act(
    client: TestClient, tokens: dict[str, str], services: Services
) -> None:
    case_id = register(client, tokens["clerk"])["id"]
    before = mark(services, case_id)
    for outsider in ("dz_clerk", "dz_sup"):
        headers = auth(tokens[outsider])
        for response in (
            client.get(case_url(case_id), headers=headers),
            client.get(case_url(case_id, "history"), headers=headers),
            client.get(case_url(case_id, "actions"), headers=headers),
            client.post(case_url(case_id, "actions", "accept"), headers=headers),
            client.post(CASES, headers=headers, json=registration(center="cg-a")),
        ):
            assert response.status_code == 403, (outsider, response.text)
    assert mark(services, case_id) == before


def assert_forbidden(
    client: TestClient, services: Services, token: str, case_id: str, action: str, body: Json
) -> None:
    before = mark(services, case_id)
    response = act(client, token, case_id, action, body)
    assert response.status_code == 403, response.text
    assert mark(services, case_id) == before


def test_a_mediator_may_not_accept_a_dispute(
    client: TestClient, tokens: dict[str, str], services: Services
) -> None:
    case_id = register(client, tokens["clerk"])["id"]
    assert_forbidden(client, services, tokens["mia"], case_id, "accept", {})


def test_a_clerk_may_not_reopen_a_closed_case(
    client: TestClient, tokens: dict[str, str], services: Services
) -> None:
    case_id = mediating(client, tokens)
    done(act(client, tokens["mia"], case_id, "terminate", {"reason": "不成", "referral": "none"}))
    reason = {"reason": "违约 breach"}
    assert_forbidden(client, services, tokens["clerk"], case_id, "reopen", reason)


def test_only_the_cases_own_mediator_records_consent(
    client: TestClient, tokens: dict[str, str], services: Services
) -> None:
    case_id = mediating(client, tokens)  # routed to mia
    consent = {"party": "p1", "consent": True}
    assert_forbidden(client, services, tokens["mo"], case_id, "record_consent", consent)


def test_an_unknown_case_is_not_found(
    client: TestClient, tokens: dict[str, str], services: Services
) -> None:
    before = mark(services)
    unknown, headers = str(uuid.uuid4()), auth(tokens["clerk"])
    for response in (
        client.get(case_url(unknown), headers=headers),
        client.get(case_url(unknown, "history"), headers=headers),
        client.get(case_url(unknown, "actions"), headers=headers),
        client.post(case_url(unknown, "actions", "accept"), headers=headers),
    ):
        assert response.status_code == 404, response.text
    assert mark(services) == before


def test_an_unknown_action_is_not_found(
    client: TestClient, tokens: dict[str, str], services: Services
) -> None:
    case_id = register(client, tokens["clerk"])["id"]
    before = mark(services, case_id)
    response = act(client, tokens["clerk"], case_id, "approve", {})
    assert response.status_code == 404, response.text
    assert "accept" in response.json()["detail"]
    assert mark(services, case_id) == before


def test_an_action_not_allowed_in_the_status_is_a_conflict_naming_the_allowed(
    client: TestClient, tokens: dict[str, str], services: Services
) -> None:
    case_id = mediating(client, tokens)
    before = mark(services, case_id)
    response = act(client, tokens["clerk"], case_id, "accept")
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["status"] == "mediating"
    assert "accept" not in body["allowed_actions"]
    # What this clerk may do now: not the mediator's record_consent or terminate.
    assert {"assign_mediator", "withdraw", "add_note"} <= set(body["allowed_actions"])
    assert not {"record_consent", "terminate"} & set(body["allowed_actions"])
    assert mark(services, case_id) == before


SESSION = {"at": "2026-03-05T10:00:00+08:00", "place": "调解室"}
# (consents recorded first, action, body, the guard that refuses it, words of its rule)
REFUSALS: tuple[tuple[dict[str, bool], str, Json, str, str], ...] = (
    ({}, "schedule_session", SESSION, "all_parties_consented", PML_ART_17),
    (
        {"p1": True, "p2": True},
        "reach_agreement",
        {"terms": "赔偿二千元", "signed_by": ["p1"]},
        "signed_by_every_party",
        "PML art. 28/29",
    ),
    (
        {},
        "extend_deadline",
        {"days": 10, "reason": "鉴定", "consented_by": ["p2"]},
        "all_consent_to_extension",
        "every party's consent",
    ),
    ({"p2": False}, "schedule_session", SESSION, "no_party_refused", PML_ART_17),
)


def test_a_guard_refusal_is_a_conflict_quoting_its_rule(
    client: TestClient, tokens: dict[str, str], services: Services
) -> None:
    case_id = mediating(client, tokens)
    for consents, action, body, guard, rule in REFUSALS:
        for party, consent in consents.items():
            given = {"party": party, "consent": consent}
            done(act(client, tokens["mia"], case_id, "record_consent", given))
        before = mark(services, case_id)
        response = act(client, tokens["mia"], case_id, action, body)
        assert response.status_code == 409, response.text
        assert response.json()["guard"] == guard
        assert rule in response.json()["rule"]
        assert rule in response.json()["detail"]
        assert mark(services, case_id) == before


def test_a_stale_if_match_is_a_failed_precondition(
    client: TestClient, tokens: dict[str, str], services: Services
) -> None:
    case_id = mediating(client, tokens)  # version 3
    before = mark(services, case_id)
    for stale in ("2", '"2"', 'W/"2"', "4"):
        note = {"text": "迟到的备注 a late note"}
        response = act(client, tokens["clerk"], case_id, "add_note", note, if_match=stale)
        assert response.status_code == 412, (stale, response.text)
        assert response.json()["current_version"] == 3
    assert mark(services, case_id) == before


# (action, body, headers, where the 422 points)
INVALID_ACTIONS: tuple[tuple[str, Json, dict[str, str], list[str]], ...] = (
    ("terminate", {"referral": "none"}, {}, ["body", "reason"]),  # missing
    ("terminate", {"reason": "不成", "referral": "court"}, {}, ["body", "referral"]),  # enum
    ("withdraw", {"reason": " \t"}, {}, ["body", "reason"]),  # blank
    ("record_session", {"summary": "第一次", "minutes": "…"}, {}, ["body", "minutes"]),  # extra
    ("record_consent", {"party": "p9", "consent": True}, {}, ["body", "party"]),  # no such party
    (
        "extend_deadline",
        {"days": 0, "reason": "鉴定", "consented_by": ["p1"]},
        {},
        ["body", "days"],
    ),
    ("record_session", {"summary": "第一次"}, {"if_match": "three"}, ["header", "if-match"]),
    ("add_note", {"text": "\udc00"}, {}, ["body", "text"]),
)


def test_an_invalid_action_request_is_unprocessable_naming_the_field(
    client: TestClient, tokens: dict[str, str], services: Services
) -> None:
    case_id = mediating(client, tokens, consented=True)
    before = mark(services, case_id)
    for action, body, headers, loc in INVALID_ACTIONS:
        response = act(client, tokens["mia"], case_id, action, body, **headers)
        assert response.status_code == 422, (action, body, response.text)
        assert response.json()["detail"][0]["loc"] == loc, (action, body)
    assert mark(services, case_id) == before


def test_an_invalid_read_is_unprocessable_naming_the_parameter(
    client: TestClient, tokens: dict[str, str], services: Services
) -> None:
    case_id = mediating(client, tokens)  # version 3
    before = mark(services, case_id)
    for params, name in (
        ({"as_of_version": 4}, "as_of_version"),  # after now
        ({"as_of_version": 0}, "as_of_version"),
        ({"as_of": "yesterday"}, "as_of"),
    ):
        response = client.get(case_url(case_id), headers=auth(tokens["clerk"]), params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["detail"][0]["loc"] == ["query", name]
    assert mark(services, case_id) == before


INVALID_REGISTRATIONS: tuple[Json, ...] = (
    {"parties": []},
    {"channel": "fax"},
    {"summary": "  "},
    {"summary": "a wall\x00"},  # PostgreSQL's text columns refuse NUL: the views would stall
    {"urgent": True},
    {"center": "nowhere"},
    {"center": "cg-a\x00"},
    {"summary": "a wall \ud800"},  # half a surrogate pair: JSON carries it, no text holds it
    {"dispute_type": "\udc00neighbour"},
)


def test_an_invalid_registration_is_unprocessable_naming_the_field(
    client: TestClient, tokens: dict[str, str], services: Services
) -> None:
    before = mark(services)
    for overrides in INVALID_REGISTRATIONS:
        body = registration(**overrides)
        response = post_json(client, CASES, auth(tokens["clerk"]), body)
        assert response.status_code == 422, (overrides, response.text)
        assert response.json()["detail"][0]["loc"] == ["body", *overrides], overrides
    assert mark(services) == before


def test_an_invalid_party_field_is_located_like_fastapis_own_errors(
    client: TestClient, tokens: dict[str, str], services: Services
) -> None:
    before = mark(services)
    for party, field in (
        ({"role": "applicant", "name": "ཚེ་རིང་", "phone": "call me"}, "phone"),
        ({"role": "applicant", "name": "ཚེ་རིང་\ud800"}, "name"),
    ):
        body = registration(parties=[party, {"role": "respondent", "name": "王五"}])
        response = post_json(client, CASES, auth(tokens["clerk"]), body)
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == ["body", "parties", 0, field]
    assert mark(services) == before


def test_an_amend_changing_nothing_is_located_at_the_body(
    client: TestClient, tokens: dict[str, str], services: Services
) -> None:
    case_id = register(client, tokens["clerk"])["id"]
    before = mark(services, case_id)
    response = act(client, tokens["clerk"], case_id, "amend", {})
    assert response.status_code == 422, response.text
    assert mark(services, case_id) == before
    assert response.json()["detail"][0]["loc"] == ["body"]


def test_a_judicial_confirmation_dated_before_the_agreement_is_refused(
    client: TestClient, tokens: dict[str, str], services: Services
) -> None:
    case_id = mediating(client, tokens, consented=True)
    agreement = {"terms": "赔偿二千元", "signed_by": ["p1", "p2"], "signed_on": "2026-03-02"}
    done(act(client, tokens["mia"], case_id, "reach_agreement", agreement))
    before = mark(services, case_id)
    decision = {"court": "城关区人民法院", "decision": "confirmed", "date": "2026-02-20"}
    response = act(client, tokens["clerk"], case_id, "confirm_judicially", decision)
    assert response.status_code in (409, 422), response.text
    assert mark(services, case_id) == before


def test_a_filter_or_path_with_a_control_character_is_unprocessable_naming_it(
    client: TestClient, tokens: dict[str, str]
) -> None:
    headers = auth(tokens["sup"])
    # A NUL would otherwise reach PostgreSQL, whose text refuses it: a server error.
    for url, params, where in (
        ("/api/v1/queue", {"dispute_type": "neighbour\x00"}, ["query", "dispute_type"]),
        ("/api/v1/audit", {"actor": "clerk\x00"}, ["query", "actor"]),
        ("/api/v1/notifications", {"unread\x1f": "true"}, ["query", "unread\x1f"]),
        ("/api/v1/cases/x%00y", {}, ["path"]),  # percent-encoded: clients refuse it raw
    ):
        response = client.get(url, params=params, headers=headers)
        assert response.status_code == 422, (url, response.text)
        assert response.json()["detail"][0]["loc"] == where


def test_tabs_in_a_filter_are_only_text_that_matches_nothing(
    client: TestClient, tokens: dict[str, str]
) -> None:
    response = client.get(
        "/api/v1/queue", params={"dispute_type": "neigh\tbour"}, headers=auth(tokens["sup"])
    )
    assert (response.status_code, response.json()["items"]) == (200, [])
