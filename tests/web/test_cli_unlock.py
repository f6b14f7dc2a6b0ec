"""`mediation user unlock` and `user password` lift the sign-in throttle the pages apply.

The command runs apart from the service (here: its own Directory on the same SQLite file), so
what it clears must be what the service's sign-in reads. The pages' throttle runs on a clock
the tests move, so that a wait cannot run out while a test is slow.
"""

from __future__ import annotations

import time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from mediation.accounts.throttle import NAME_FREE_FAILURES
from mediation.bootstrap import Services
from mediation.cli import app
from mediation.store import Database
from tests.web.web_support import PASSWORD, csrf, sign_in


@pytest.fixture(autouse=True)
def configured(sqlite_database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line works on the database the pages use."""
    monkeypatch.setenv("MEDIATION_DATABASE_URL", sqlite_database.url)


class SignInTime:
    """The pages' throttle clock: still unless moved, and a while behind the wall clock."""

    def __init__(self) -> None:
        self.now = time.time() - 600.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def sign_in_time(web_services: Services) -> SignInTime:
    clock = SignInTime()
    web_services.directory.throttle.clock = clock
    return clock


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=stdin)


def try_sign_in(web_app: FastAPI, username: str, password: str, address: str) -> int:
    """The status of one sign-in from `address`: 303 in, 401 refused, 429 asked to wait."""
    client = TestClient(web_app, client=(address, 50000), headers={"Accept-Language": "en"})
    data = {"username": username, "password": password, "csrf_token": csrf(client)}
    return client.post("/sign-in", data=data, follow_redirects=False).status_code


def throttle_name_everywhere(web_app: FastAPI, username: str) -> None:
    """Someone guessing at the name from many addresses, until it waits wherever it is tried."""
    for n in range(NAME_FREE_FAILURES):
        assert try_sign_in(web_app, username, "a wrong guess", f"10.0.0.{n}") == 401
    assert try_sign_in(web_app, username, PASSWORD, "10.9.9.9") == 429


def test_user_unlock_lets_a_user_throttled_by_others_guesses_sign_in_again(
    web_app: FastAPI, browser: TestClient
) -> None:
    throttle_name_everywhere(web_app, "mia")

    result = run("user", "unlock", "mia")

    assert result.exit_code == 0, result.output
    assert f"cleared {NAME_FREE_FAILURES} failed sign-ins of mia from anywhere" in result.stdout
    assert "cleared 1 failed sign-in of mia from 10.0.0.7" in result.stdout
    sign_in(browser, "mia")


def test_user_unlock_names_an_address_that_still_slows_the_user_and_the_address_option_clears_it(
    web_app: FastAPI,
) -> None:
    for _ in range(3):  # the user's own typing, at the office: it counts for the address too
        assert try_sign_in(web_app, "mia", "mistyped", "10.1.1.1") == 401
    assert try_sign_in(web_app, "mia", PASSWORD, "10.1.1.1") == 429

    first = run("user", "unlock", "mia")
    still = try_sign_in(web_app, "mia", PASSWORD, "10.1.1.1")
    then = run("user", "unlock", "mia", "--address", "10.1.1.1")

    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines() == [
        "cleared 3 failed sign-ins of mia from anywhere",
        "cleared 3 failed sign-ins of mia from 10.1.1.1",
        "kept 3 failed sign-ins from 10.1.1.1 (any name), which still slow mia's sign-ins"
        " from there: --address 10.1.1.1 clears them",
    ]
    assert still == 429
    assert then.stdout.splitlines() == [
        "no failed sign-ins recorded for mia",
        "cleared 3 failed sign-ins from 10.1.1.1 (any name)",
    ]
    assert try_sign_in(web_app, "mia", PASSWORD, "10.1.1.1") == 303


def test_user_unlock_keeps_the_failures_of_an_address_for_any_name_unless_it_is_named(
    web_app: FastAPI,
) -> None:
    for name in ("a", "b", "c"):  # a guesser at the address of the user's office
        assert try_sign_in(web_app, name, "guess", "10.6.6.6") == 401
    assert try_sign_in(web_app, "mia", PASSWORD, "10.6.6.6") == 429

    kept = run("user", "unlock", "mia")
    still = try_sign_in(web_app, "mia", PASSWORD, "10.6.6.6")
    lifted = run("user", "unlock", "mia", "--address", "10.6.6.6")

    assert kept.exit_code == 0, kept.output
    assert "10.6.6.6" not in kept.stdout
    assert still == 429
    assert lifted.exit_code == 0, lifted.output
    assert "cleared 3 failed sign-ins from 10.6.6.6 (any name)" in lifted.stdout
    assert try_sign_in(web_app, "mia", PASSWORD, "10.6.6.6") == 303


def test_user_unlock_leaves_other_users_throttled(web_app: FastAPI, browser: TestClient) -> None:
    throttle_name_everywhere(web_app, "mia")
    throttle_name_everywhere(web_app, "mo")

    assert run("user", "unlock", "mia").exit_code == 0

    sign_in(browser, "mia")
    assert try_sign_in(web_app, "mo", PASSWORD, "10.9.9.9") == 429


def test_user_unlock_with_nothing_recorded_says_so(web_app: FastAPI) -> None:
    result = run("user", "unlock", "mia", "--address", "10.6.6.6")

    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "no failed sign-ins recorded for mia\nno failed sign-ins recorded from 10.6.6.6\n"
    )


def test_user_unlock_of_an_unknown_user_fails_naming_the_user_and_clears_nothing(
    web_app: FastAPI,
) -> None:
    throttle_name_everywhere(web_app, "mia")
    for name in ("a", "b", "c"):
        try_sign_in(web_app, name, "guess", "10.6.6.6")

    result = run("user", "unlock", "nobody", "--address", "10.6.6.6")

    assert result.exit_code == 2
    assert result.stderr == "error: user 'nobody' not found\n"
    assert try_sign_in(web_app, "mia", PASSWORD, "10.9.9.9") == 429
    assert try_sign_in(web_app, "clerk", PASSWORD, "10.6.6.6") == 429


def test_user_password_also_lifts_the_throttle_of_the_name(
    web_app: FastAPI, browser: TestClient
) -> None:
    throttle_name_everywhere(web_app, "mia")

    result = run("user", "password", "mia", "--password-stdin", stdin="a fresh passphrase\n")

    assert result.exit_code == 0, result.output
    assert f"cleared {NAME_FREE_FAILURES} failed sign-ins of mia from anywhere" in result.stdout
    sign_in(browser, "mia", "a fresh passphrase")


def test_user_list_marks_the_users_whose_sign_ins_must_wait(
    web_app: FastAPI, sign_in_time: SignInTime
) -> None:
    throttle_name_everywhere(web_app, "mia")
    sign_in_time.now = time.time() - 64.0
    for n in range(6):  # the guessing goes on, each try as soon as let: the next waits 64 s
        sign_in_time.now += 2.0**n
        assert try_sign_in(web_app, "mia", "a wrong guess", f"10.0.1.{n}") == 401

    listed = run("user", "list", "--center", "cg-a").stdout.splitlines()
    run("user", "unlock", "mia")
    after = run("user", "list", "--center", "cg-a").stdout.splitlines()

    assert listed == [
        "clerk\tclerk\tcg-a\tenabled\t-",
        "mia\tmediator\tcg-a\tenabled\tthrottled",
        "mo\tmediator\tcg-a\tenabled\t-",
    ]
    assert after[1] == "mia\tmediator\tcg-a\tenabled\t-"
