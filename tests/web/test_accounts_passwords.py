"""Passwords in the accounts directory: hashing, checking, throttling, and older databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, inspect, text

from mediation.accounts import Directory, Passwords, Principal, SignInThrottledError, Throttle
from mediation.accounts import directory as accounts_directory
from mediation.accounts.tables import UserRow
from mediation.domain.errors import InvalidFieldError, NotFoundError
from mediation.domain.values import Role
from mediation.store import Database
from tests.support import FakeTime
from tests.web.conftest import FAST_HASHER

PASSWORD = "a long enough passphrase"


@pytest.fixture
def engine(sqlite_database: Database) -> Engine:
    return sqlite_database.create_engine()


@pytest.fixture
def time() -> FakeTime:
    return FakeTime(1000.0)


@pytest.fixture
def directory(engine: Engine, time: FakeTime) -> Directory:
    directory = Directory(engine, Passwords(FAST_HASHER), Throttle(engine, clock=time))
    directory.create_schema()
    directory.add_center("cg-a", "ལྷ་ས་ 八廓街道调解中心")
    directory.add_user("clerk", Role.CLERK, "cg-a", password=PASSWORD)
    directory.add_user("api_only", Role.CLERK, "cg-a")
    return directory


def stored_hash(engine: Engine, username: str) -> str | None:
    with engine.connect() as conn:
        found: str | None = conn.execute(
            text("SELECT password_hash FROM users WHERE username = :u"), {"u": username}
        ).scalar_one()
    return found


def test_the_right_password_gives_the_user_and_only_a_hash_is_stored(
    directory: Directory, engine: Engine
) -> None:
    assert directory.verify_password("clerk", PASSWORD) == Principal("clerk", Role.CLERK, "cg-a")
    stored = stored_hash(engine, "clerk")
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_a_wrong_password_an_unknown_user_and_a_user_without_password_are_refused_alike(
    directory: Directory,
) -> None:
    assert directory.verify_password("clerk", "not the password") is None
    assert directory.verify_password("nobody", PASSWORD) is None
    assert directory.verify_password("api_only", PASSWORD) is None


def test_a_disabled_user_cannot_sign_in_with_the_right_password(directory: Directory) -> None:
    directory.disable_user("clerk")
    assert directory.verify_password("clerk", PASSWORD) is None


def test_a_password_shorter_than_ten_characters_is_refused_naming_the_field(
    directory: Directory,
) -> None:
    with pytest.raises(InvalidFieldError) as refused:
        directory.set_password("clerk", "short")
    assert refused.value.field == "password"
    assert directory.verify_password("clerk", PASSWORD) is not None


def test_setting_a_password_replaces_the_old_one_and_changes_the_session_stamp(
    directory: Directory,
) -> None:
    stamp = directory.password_stamp("clerk")
    assert stamp is not None
    session = directory.open_session("clerk")
    assert directory.session_principal("clerk", stamp, session) is not None
    directory.set_password("clerk", "a brand new passphrase")
    assert directory.verify_password("clerk", PASSWORD) is None
    assert directory.verify_password("clerk", "a brand new passphrase") is not None
    assert directory.session_principal("clerk", stamp, session) is None
    assert directory.password_stamp("clerk") != stamp


def test_a_session_ends_when_signed_out_or_its_lifetime_is_over(
    directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    stamp = directory.password_stamp("clerk")
    assert stamp is not None
    signed_out, aging = directory.open_session("clerk"), directory.open_session("clerk")
    directory.end_session(signed_out)

    assert directory.session_principal("clerk", stamp, signed_out) is None
    assert directory.session_principal("clerk", stamp, aging) is not None
    assert directory.session_principal("mia", stamp, aging) is None  # another user's session
    monkeypatch.setattr(accounts_directory, "SESSION_LIFETIME", timedelta(0))
    assert directory.session_principal("clerk", stamp, aging) is None


def test_setting_the_password_of_an_unknown_user_fails_naming_the_user(
    directory: Directory,
) -> None:
    with pytest.raises(NotFoundError, match="nobody"):
        directory.set_password("nobody", PASSWORD)


def test_repeated_failures_slow_further_tries_for_that_name_then_the_delay_passes(
    directory: Directory, time: FakeTime
) -> None:
    for _ in range(3):
        assert directory.verify_password("clerk", "wrong guess") is None
    with pytest.raises(SignInThrottledError) as throttled:
        directory.verify_password("clerk", PASSWORD)
    assert throttled.value.retry_after == pytest.approx(1.0)
    time.now += 1.0
    assert directory.verify_password("clerk", "wrong again") is None
    with pytest.raises(SignInThrottledError) as doubled:
        directory.verify_password("clerk", PASSWORD)
    assert doubled.value.retry_after == pytest.approx(2.0)
    time.now += 2.0
    assert directory.verify_password("clerk", PASSWORD) is not None
    assert directory.verify_password("clerk", "wrong") is None  # a success forgave the past


def test_failures_from_one_address_slow_guesses_at_other_names_from_it(
    directory: Directory,
) -> None:
    for name in ("a", "b", "c"):
        directory.verify_password(name, "guess", source="10.1.2.3")
    with pytest.raises(SignInThrottledError):
        directory.verify_password("clerk", PASSWORD, source="10.1.2.3")
    assert directory.verify_password("clerk", PASSWORD, source="10.9.9.9") is not None


def test_a_hash_made_with_weaker_parameters_is_upgraded_at_the_next_sign_in(
    directory: Directory, engine: Engine
) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=512, parallelism=1)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE users SET password_hash = :h WHERE username = 'clerk'"),
            {"h": weak.hash(PASSWORD)},
        )
    assert directory.verify_password("clerk", PASSWORD) is not None
    assert stored_hash(engine, "clerk") != weak.hash(PASSWORD)
    upgraded = stored_hash(engine, "clerk")
    assert upgraded is not None
    assert "m=1024" in upgraded


def test_a_database_made_before_passwords_gets_the_column_and_keeps_its_users(
    engine: Engine,
) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE centers (code VARCHAR(32) PRIMARY KEY, name VARCHAR(200), parent_code VARCHAR(32), created_at DATETIME)"
            )
        )
        conn.execute(
            text(
                "CREATE TABLE users (username VARCHAR(64) PRIMARY KEY, role VARCHAR(16), center_code VARCHAR(32), token_hash VARCHAR(64) UNIQUE, disabled BOOLEAN, created_at DATETIME)"
            )
        )
        conn.execute(text("INSERT INTO centers VALUES ('cg-a', 'center', NULL, '2026-01-01')"))
        conn.execute(
            text("INSERT INTO users VALUES ('old', 'clerk', 'cg-a', 'x', 0, '2026-01-01')")
        )
    directory = Directory(engine, Passwords(FAST_HASHER))
    directory.create_schema()
    assert "password_hash" in {
        c["name"] for c in inspect(engine).get_columns(UserRow.__tablename__)
    }
    directory.set_password("old", PASSWORD)
    assert directory.verify_password("old", PASSWORD) == Principal("old", Role.CLERK, "cg-a")


def test_tries_begun_at_the_same_moment_each_count_so_a_burst_waits_as_a_row_would(
    directory: Directory, time: FakeTime
) -> None:
    throttle = directory.throttle
    keys = ["user:clerk", "source:10.1.2.3"]

    # Eight sign-ins in parallel: none has been checked yet when the next one begins.
    waits = [throttle.attempt(keys) for _ in range(8)]

    assert waits[:3] == [0.0, 0.0, 0.0]  # the free tries
    assert all(wait > 0 for wait in waits[3:])
    throttle.succeeded(keys)
    assert throttle.attempt(keys) == 0.0


def test_one_address_failing_for_a_name_does_not_keep_its_user_out_elsewhere(
    directory: Directory,
) -> None:
    for _ in range(3):  # someone failing on purpose, as often as it is let through
        assert directory.verify_password("clerk", "wrong", source="10.6.6.6") is None
    with pytest.raises(SignInThrottledError):
        directory.verify_password("clerk", PASSWORD, source="10.6.6.6")

    assert directory.verify_password("clerk", PASSWORD, source="10.1.1.1") is not None


def test_failures_for_a_name_from_many_addresses_slow_it_everywhere_past_a_higher_bound(
    directory: Directory,
) -> None:
    for n in range(20):  # one failure from each of twenty addresses
        assert directory.verify_password("clerk", "wrong", source=f"10.0.0.{n}") is None

    with pytest.raises(SignInThrottledError):
        directory.verify_password("clerk", PASSWORD, source="10.1.1.1")
