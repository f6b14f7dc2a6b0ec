"""`mediation user add --password-stdin` and `mediation user password`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner, Result

from mediation.accounts import Directory, Passwords
from mediation.cli import app
from mediation.store import Database
from tests.web.conftest import FAST_HASHER


@pytest.fixture
def directory(sqlite_database: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Directory]:
    monkeypatch.setenv("MEDIATION_DATABASE_URL", sqlite_database.url)
    engine = sqlite_database.create_engine()
    directory = Directory(engine, Passwords(FAST_HASHER))
    directory.create_schema()
    directory.add_center("cg-a", "八廓街道调解中心")
    yield directory
    engine.dispose()


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=stdin)


def test_user_add_with_password_stdin_lets_the_user_sign_in_and_still_prints_the_token(
    directory: Directory,
) -> None:
    result = run(
        "user",
        "add",
        "dolma",
        "--role",
        "clerk",
        "--center",
        "cg-a",
        "--password-stdin",
        stdin="sgrol ma 12345 ཆོས\n",
    )
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert directory.authenticate(token) is not None
    assert directory.verify_password("dolma", "sgrol ma 12345 ཆོས") is not None


def test_user_password_sets_a_new_password_from_stdin(directory: Directory) -> None:
    directory.add_user("dolma", "clerk", "cg-a")
    result = run("user", "password", "dolma", "--password-stdin", stdin="a new passphrase\n")
    assert result.exit_code == 0, result.output
    assert directory.verify_password("dolma", "a new passphrase") is not None


def test_user_password_asks_twice_without_password_stdin(directory: Directory) -> None:
    directory.add_user("dolma", "clerk", "cg-a")
    result = run("user", "password", "dolma", stdin="typed passphrase\ntyped passphrase\n")
    assert result.exit_code == 0, result.output
    assert directory.verify_password("dolma", "typed passphrase") is not None


def test_a_short_password_is_refused_and_no_user_is_added(directory: Directory) -> None:
    result = run(
        "user",
        "add",
        "dolma",
        "--role",
        "clerk",
        "--center",
        "cg-a",
        "--password-stdin",
        stdin="short\n",
    )
    assert result.exit_code == 2
    assert "password" in result.output
    assert directory.user("dolma") is None


def test_empty_standard_input_is_refused(directory: Directory) -> None:
    result = run(
        "user",
        "add",
        "dolma",
        "--role",
        "clerk",
        "--center",
        "cg-a",
        "--password-stdin",
        stdin="",
    )
    assert result.exit_code == 2
    assert "standard input" in result.output


def test_the_password_of_an_unknown_user_fails_naming_the_user(directory: Directory) -> None:
    result = run("user", "password", "nobody", "--password-stdin", stdin="a long passphrase\n")
    assert result.exit_code == 2
    assert "nobody" in result.output
