"""Signing in and out of the pages: password, session cookie, where the user goes next."""

from __future__ import annotations

from fastapi.testclient import TestClient

from mediation.bootstrap import Services
from tests.web.web_support import PASSWORD, csrf, post_form, register, sign_in


def test_a_page_asked_for_without_a_session_sends_the_browser_to_sign_in_and_back(
    browser: TestClient,
) -> None:
    response = browser.get("/queue?risk=red", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=%2Fqueue%3Frisk%3Dred"
    form = browser.get(response.headers["location"])
    assert 'name="next" value="/queue?risk=red"' in form.text


def test_signing_in_sets_an_httponly_samesite_session_cookie_and_opens_the_next_page(
    browser: TestClient,
) -> None:
    response = sign_in(browser, "clerk")
    assert response.headers["location"] == "/queue"
    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith("mediation_session=")
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    queue = browser.get("/queue")
    assert queue.status_code == 200
    assert "clerk" in queue.text


def test_a_wrong_password_is_refused_with_a_message_beside_the_form(browser: TestClient) -> None:
    token = csrf(browser)
    response = browser.post(
        "/sign-in", data={"username": "clerk", "password": "wrong password", "csrf_token": token}
    )
    assert response.status_code == 401
    assert 'role="alert"' in response.text
    assert "The username or password is not correct." in response.text
    assert browser.get("/queue", follow_redirects=False).status_code == 303


def test_after_repeated_failures_sign_in_asks_to_wait(browser: TestClient) -> None:
    for _ in range(3):
        token = csrf(browser)
        browser.post("/sign-in", data={"username": "mia", "password": "guess", "csrf_token": token})
    token = csrf(browser)
    response = browser.post(
        "/sign-in", data={"username": "mia", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 429
    assert "Too many failed attempts" in response.text


def test_next_never_leads_to_another_site(browser: TestClient) -> None:
    token = csrf(browser)
    data = {
        "username": "clerk",
        "password": PASSWORD,
        "csrf_token": token,
        "next": "//evil.example/",
    }
    response = browser.post("/sign-in", data=data, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/queue"


def test_signing_out_ends_the_session(clerk: TestClient) -> None:
    response = post_form(clerk, "/sign-out", {}, "/queue")
    assert response.status_code == 303
    assert clerk.get("/queue", follow_redirects=False).status_code == 303


def test_a_new_password_or_a_disabled_user_ends_open_sessions(
    web_services: Services, clerk: TestClient, web_app: object
) -> None:
    assert clerk.get("/queue", follow_redirects=False).status_code == 200
    web_services.directory.set_password("clerk", "another long passphrase")
    assert clerk.get("/queue", follow_redirects=False).status_code == 303
    sign_in(clerk, "clerk", "another long passphrase")
    web_services.directory.disable_user("clerk")
    assert clerk.get("/queue", follow_redirects=False).status_code == 303


def test_a_forged_session_cookie_is_not_accepted(browser: TestClient) -> None:
    browser.cookies.set("mediation_session", "eyJ1c2VyIjogImFkbWluIn0=.forged.signature")
    assert browser.get("/queue", follow_redirects=False).status_code == 303


def test_a_form_sent_after_the_session_ended_returns_to_its_page_once_signed_in(
    web_services: Services, clerk: TestClient, web_app: object
) -> None:
    case_id = register(clerk)
    page = f"http://testserver/cases/{case_id}"
    web_services.directory.set_password("clerk", "another long passphrase")  # ends the session

    response = clerk.post(
        f"/cases/{case_id}/actions/add_note",
        data={"text": "回访记录", "csrf_token": "whatever"},
        headers={"Referer": page},
        follow_redirects=False,
    )

    assert response.status_code == 303
    assert response.headers["location"] == f"/sign-in?next=%2Fcases%2F{case_id}"


def test_the_language_switch_on_a_page_a_form_post_showed_returns_to_that_page(
    clerk: TestClient,
) -> None:
    case_id = register(clerk)
    refused = post_form(
        clerk, f"/cases/{case_id}/actions/reject", {"version": "1"}, f"/cases/{case_id}"
    )  # no reason: the form again, with its error

    assert refused.status_code == 422
    assert f'name="next" value="/cases/{case_id}"' in refused.text


def test_a_copy_of_the_session_cookie_is_refused_once_signed_out(clerk: TestClient) -> None:
    copied = clerk.cookies.get("mediation_session")
    assert copied is not None
    with TestClient(clerk.app) as thief:
        thief.cookies.set("mediation_session", copied)
        assert thief.get("/queue", follow_redirects=False).status_code == 200  # a live copy
        assert post_form(clerk, "/sign-out", {}, "/queue").status_code == 303

        after = thief.get("/queue", follow_redirects=False)

    assert after.status_code == 303  # to sign in
