"""The intake form: several parties, and every error beside its field, announced."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from mediation.bootstrap import Services
from tests.web.web_support import CHINESE_NAME, TIBETAN_NAME, csrf, post_form, registration


def error_beside(page: str, field_id: str) -> str:
    """The error announced for the control `field_id`, checking that the control points to it."""
    control = re.search(rf'<(?:input|select|textarea)[^>]*id="{re.escape(field_id)}"[^>]*>', page)
    assert control, f"no control {field_id}"
    assert f'aria-describedby="{field_id}-error"' in control.group(0)
    assert 'aria-invalid="true"' in control.group(0)
    message = re.search(
        rf'<p class="field-error" id="{re.escape(field_id)}-error" role="alert">([^<]*)</p>', page
    )
    assert message, f"no error beside {field_id}"
    return message.group(1)


def test_a_clerk_registers_a_dispute_with_three_parties(
    clerk: TestClient, web_services: Services
) -> None:
    form = registration() | {
        "parties-2-role": "respondent",
        "parties-2-name": "次仁 ཚེ་རིང་",
        "parties-2-phone": "",
        "parties-2-id_number": "540102199001011234",
    }
    response = post_form(clerk, "/cases/new", form, "/cases/new")
    assert response.status_code == 303
    page = clerk.get(response.headers["location"]).text
    assert "The case was registered." in page
    for name in (TIBETAN_NAME, CHINESE_NAME, "次仁 ཚེ་རིང་"):
        assert name in page


def test_errors_are_shown_beside_their_fields_all_at_once(
    clerk: TestClient, web_services: Services
) -> None:
    before = web_services.cases.recorder.max_notification_id()
    form = registration(summary="   ", dispute_type="") | {
        "parties-0-name": "",
        "parties-1-phone": "call me",
    }
    response = post_form(clerk, "/cases/new", form, "/cases/new")
    assert response.status_code == 422
    page = response.text
    assert error_beside(page, "dispute_type") == "is required"
    assert error_beside(page, "summary") == "is required"
    assert error_beside(page, "parties-0-name") == "is required"
    assert error_beside(page, "parties-1-phone") == "must be 3 to 32 digits, spaces, + or -"
    assert 'id="error-summary"' in page
    assert '<a href="#parties-0-name">Party 1 · Name: is required</a>' in page
    assert '<a href="#summary">Summary: is required</a>' in page
    # what was typed stays
    assert "八廓街" in page
    assert web_services.cases.recorder.max_notification_id() == before


def test_a_missing_respondent_is_named_at_the_parties(clerk: TestClient) -> None:
    form = registration() | {"parties-1-role": "applicant"}
    page = post_form(clerk, "/cases/new", form, "/cases/new").text
    assert re.search(r'<fieldset id="parties-fieldset"[^>]*aria-describedby="parties-error"', page)
    assert "at least one respondent is required" in page


def test_the_errors_speak_the_users_language(clerk: TestClient) -> None:
    clerk.cookies.set("mediation_lang", "zh")
    form = registration(summary="")
    page = post_form(clerk, "/cases/new", form, "/cases/new").text
    assert error_beside(page, "summary") == "必填"
    clerk.cookies.set("mediation_lang", "bo")
    page = post_form(clerk, "/cases/new", form, "/cases/new").text
    assert error_beside(page, "summary") == "ངེས་པར་འབྲི་དགོས།"


def test_a_party_row_is_added_and_removed_without_javascript(clerk: TestClient) -> None:
    page = post_form(clerk, "/cases/new", registration() | {"add_party": "1"}, "/cases/new").text
    assert 'id="parties-2-name"' in page
    assert TIBETAN_NAME in page  # the rows typed so far stay
    form = registration() | {
        "parties-2-role": "respondent",
        "parties-2-name": "次仁",
        "remove_party": "0",
    }
    page = post_form(clerk, "/cases/new", form, "/cases/new").text
    assert 'id="parties-2-name"' not in page
    assert TIBETAN_NAME not in page
    assert CHINESE_NAME in page
    assert "次仁" in page


def test_sending_the_same_form_twice_registers_one_case(
    clerk: TestClient, web_services: Services
) -> None:
    form = clerk.get("/cases/new").text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form)
    assert key
    data = registration() | {
        "idempotency_key": key.group(1),
        "csrf_token": csrf(clerk, "/cases/new"),
    }
    first = clerk.post("/cases/new", data=data, follow_redirects=False)
    second = clerk.post("/cases/new", data=data, follow_redirects=False)
    assert first.headers["location"] == second.headers["location"]
    assert len(list(web_services.cases.case_ids())) == 1


def test_the_intake_form_labels_every_control(clerk: TestClient) -> None:
    page = clerk.get("/cases/new").text
    ids = re.findall(r'<(?:input|select|textarea)(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', page)
    assert ids
    for control in ids:
        assert f'<label for="{control}"' in page, control


def test_a_mediator_is_not_offered_the_intake_form(web_app: object, browser: TestClient) -> None:
    from tests.web.web_support import sign_in

    sign_in(browser, "mia")
    assert 'href="/cases/new"' not in browser.get("/queue").text
    refused = post_form(browser, "/cases/new", registration(), "/queue")
    assert refused.status_code == 403
