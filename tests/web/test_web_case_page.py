"""The case page: status, parties, deadlines, the actions open now, timeline and time travel."""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi.testclient import TestClient

from mediation.bootstrap import Services
from mediation.domain import decisions
from mediation.domain.values import Actor, Role
from tests.support import FakeClock
from tests.web.web_support import act, post_form, register, registration, signed_in

STATUS = re.compile(r'id="case-status">([^<]+)<')


def status_shown(page: str) -> str:
    found = STATUS.search(page)
    assert found
    return found.group(1)


def routed(clerk: TestClient) -> str:
    case_id = register(clerk)
    assert act(clerk, case_id, "accept").status_code == 303
    assert act(clerk, case_id, "route", mediator="mia").status_code == 303
    return case_id


def test_the_page_offers_the_users_actions_as_forms_and_an_action_moves_the_case(
    clerk: TestClient,
) -> None:
    case_id = register(clerk)
    page = clerk.get(f"/cases/{case_id}").text
    assert status_shown(page) == "Registered"
    for action in ("accept", "reject", "amend", "grade_risk"):
        assert f'action="/cases/{case_id}/actions/{action}"' in page
    assert "/actions/record_consent" not in page  # a mediator's action
    response = act(clerk, case_id, "accept")
    assert response.status_code == 303
    page = clerk.get(response.headers["location"]).text
    assert status_shown(page) == "Awaiting routing"
    assert "Done: Accept" in page


def test_deadlines_show_the_days_left_and_the_rule(clerk: TestClient, clock: FakeClock) -> None:
    case_id = routed(clerk)
    page = clerk.get(f"/cases/{case_id}").text
    assert "30 days left" in page
    assert "Conclude mediation within 30 days" in page
    clock.advance(days=32)
    page = clerk.get(f"/cases/{case_id}").text
    assert "overdue by 2 days" in page
    assert '<tr class="overdue">' in page


def test_a_missing_field_is_shown_beside_it_and_nothing_changes(clerk: TestClient) -> None:
    case_id = register(clerk)
    response = act(clerk, case_id, "reject", reason="")
    assert response.status_code == 422
    assert re.search(
        r'id="reject-reason"[^>]*aria-describedby="reject-reason-error"', response.text
    )
    assert (
        '<p class="field-error" id="reject-reason-error" role="alert">is required</p>'
        in response.text
    )
    assert '<details class="action" id="action-reject" open>' in response.text
    assert status_shown(response.text) == "Registered"


def test_a_refusal_by_a_rule_quotes_the_rule(web_app: object, clerk: TestClient) -> None:
    case_id = routed(clerk)
    with signed_in(clerk.app, "mia") as mia:
        page = mia.get(f"/cases/{case_id}").text
        assert "Blocked for now by the rule:" in page
        response = act(mia, case_id, "record_session", summary="met both parties")
        assert response.status_code == 409
        assert "The rule: “PML art. 17: mediation is voluntary" in response.text


def test_acting_on_a_page_someone_else_changed_meanwhile_is_refused(clerk: TestClient) -> None:
    case_id = register(clerk)
    data = {"version": "1", "reason": "already before a court"}
    assert act(clerk, case_id, "grade_risk", risk="high").status_code == 303
    response = post_form(clerk, f"/cases/{case_id}/actions/reject", data, f"/cases/{case_id}")
    assert response.status_code == 412
    assert "Someone else changed this case meanwhile" in response.text
    assert status_shown(response.text) == "Registered"


def test_time_travel_shows_an_earlier_version_and_hides_the_actions(clerk: TestClient) -> None:
    case_id = routed(clerk)
    page = clerk.get(f"/cases/{case_id}?as_of_version=2").text
    assert status_shown(page) == "Awaiting routing"
    assert "You are looking at version 2 of 3" in page
    assert f'href="/cases/{case_id}?as_of_version=1"' in page  # earlier
    assert f'href="/cases/{case_id}?as_of_version=3"' in page  # later
    assert 'type="range" id="as-of-version" name="as_of_version" min="1" max="3" value="2"' in page
    assert "/actions/" not in page
    assert 'aria-current="step"' in page
    first = clerk.get(f"/cases/{case_id}?as_of_version=1").text
    assert status_shown(first) == "Registered"
    assert 'rel="prev"' not in first


def test_a_version_beyond_the_case_is_refused_with_a_message(clerk: TestClient) -> None:
    case_id = register(clerk)
    response = clerk.get(f"/cases/{case_id}?as_of_version=9")
    assert response.status_code == 422
    assert "must be between 1 and 1" in response.text


def test_the_timeline_names_who_did_what_and_when(clerk: TestClient) -> None:
    case_id = routed(clerk)
    page = clerk.get(f"/cases/{case_id}").text
    timeline = page[page.index('<ol class="timeline">') :]
    assert timeline.count("<li") == 3
    assert "Registered" in timeline
    assert "Routed to a mediator" in timeline
    assert "Awaiting routing → Mediating" in timeline
    assert "clerk (Clerk, cg-a)" in timeline
    assert '<time datetime="2026-03-02T09:00:00+00:00">Mar 2, 2026, 5:00:00' in timeline


def test_a_supervisor_above_sees_the_case_with_contacts_masked(
    web_app: object, clerk: TestClient
) -> None:
    case_id = register(clerk)
    with signed_in(clerk.app, "sup") as sup:
        page = sup.get(f"/cases/{case_id}").text
    assert "138 0891 0001" not in page
    assert "***" in page
    assert "Contact details are hidden" in page


def test_another_centers_clerk_may_not_see_the_case(web_app: object, clerk: TestClient) -> None:
    case_id = register(clerk)
    with signed_in(clerk.app, "dz_clerk") as other:
        response = other.get(f"/cases/{case_id}")
    assert response.status_code == 403
    assert "You may not do this." in response.text


def test_an_unknown_case_or_action_is_not_found(clerk: TestClient) -> None:
    assert clerk.get(f"/cases/{uuid.uuid4()}").status_code == 404
    case_id = register(clerk)
    response = post_form(clerk, f"/cases/{case_id}/actions/fly", {}, f"/cases/{case_id}")
    assert response.status_code == 404


def test_a_mediator_records_consent_a_session_and_the_agreement(
    web_app: object, clerk: TestClient, web_services: Services
) -> None:
    case_id = routed(clerk)
    with signed_in(clerk.app, "mia") as mia:
        for party in ("p1", "p2"):
            assert (
                act(mia, case_id, "record_consent", party=party, consent="yes").status_code == 303
            )
        assert (
            act(mia, case_id, "record_session", summary="双方同意 ཚང་མ་མོས་མཐུན།").status_code == 303
        )
        response = act(mia, case_id, "reach_agreement", terms="赔偿 500 元", signed_by=["p1", "p2"])
        assert response.status_code == 303
        page = mia.get(f"/cases/{case_id}").text
    assert status_shown(page) == "Agreement in force"
    assert "赔偿 500 元" in page
    assert "双方同意 ཚང་མ་མོས་མཐུན།" in page


def test_a_session_scheduled_beyond_a_year_is_refused_and_one_stored_before_still_shows(
    web_app: object, clerk: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = routed(clerk)
    with signed_in(clerk.app, "mia") as mia:
        for party in ("p1", "p2"):
            act(mia, case_id, "record_consent", party=party, consent="yes")
        refused = act(mia, case_id, "schedule_session", at="0001-01-01T00:00", place="调解室")
        # As an older version accepted it: the year-1 moment stays in the case for good.
        monkeypatch.setattr(decisions, "SESSION_DAYS", 10**6)
        stored = act(mia, case_id, "schedule_session", at="0001-01-01T00:00", place="调解室")
        page = mia.get(f"/cases/{case_id}")

    assert refused.status_code == 422
    assert "within 366 days" in refused.text
    assert stored.status_code == 303
    assert page.status_code == 200
    assert "0001-01-01" in page.text


@pytest.mark.parametrize("number", ["x", "1.5", "²"])
def test_a_tampered_number_in_a_form_is_taken_for_none_not_a_server_error(
    web_app: object, clerk: TestClient, number: str
) -> None:
    case_id = register(clerk)
    form = registration() | {"remove_party": number}
    removing = post_form(clerk, "/cases/new", form, "/cases/new")
    acting = post_form(
        clerk, f"/cases/{case_id}/actions/accept", {"version": number}, f"/cases/{case_id}"
    )
    reading = post_form(clerk, "/notifications/read", {"up_to": number}, "/notifications")

    assert removing.status_code == 200  # the form again, every party kept
    assert removing.text.count('name="parties-') >= 2 * 4
    assert acting.status_code < 500
    assert reading.status_code < 500


def test_an_intake_keeps_every_party_row_it_was_sent_and_refuses_too_many(
    web_app: object, clerk: TestClient, web_services: Services
) -> None:
    def with_parties(count: int) -> dict[str, str]:
        form = registration()
        for index in range(2, count):  # rows 0 and 1: the applicant and a respondent
            form |= {f"parties-{index}-role": "respondent", f"parties-{index}-name": f"工人{index}"}
        return form

    crew = post_form(clerk, "/cases/new", with_parties(23), "/cases/new")
    too_many = post_form(clerk, "/cases/new", with_parties(201), "/cases/new")

    assert crew.status_code == 303, crew.text
    case_id = uuid.UUID(crew.headers["location"].removeprefix("/cases/"))
    clerk_actor = Actor("clerk", Role.CLERK, "cg-a")
    assert len(web_services.cases.case(case_id, clerk_actor).parties) == 23
    assert too_many.status_code == 422
    assert "must be at most 200 parties" in too_many.text
