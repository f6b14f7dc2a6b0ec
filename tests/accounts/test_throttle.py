"""The sign-in throttle against real databases: every process on one database counts the
same failures, and an administrator can lift a user's."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from mediation.accounts import Directory, Passwords, SignInThrottledError, Throttle
from mediation.domain.errors import NotFoundError
from mediation.domain.values import Role
from mediation.store import Database
from tests.support import FakeTime
from tests.web.conftest import FAST_HASHER

PASSWORD = "a long enough passphrase"


@pytest.fixture
def time() -> FakeTime:
    return FakeTime(1_800_000_000.0)


@pytest.fixture
def engine(database: Database) -> Iterator[Engine]:
    engine = database.create_engine()
    yield engine
    engine.dispose()


def open_directory(engine: Engine, time: FakeTime) -> Directory:
    return Directory(engine, Passwords(FAST_HASHER), Throttle(engine, clock=time))


@pytest.fixture
def directory(engine: Engine, time: FakeTime) -> Directory:
    directory = open_directory(engine, time)
    directory.create_schema()
    directory.add_center("cg-a", "ལྷ་ས་ 八廓街道调解中心")
    directory.add_user("mia", Role.MEDIATOR, "cg-a", password=PASSWORD)
    directory.add_user("mo", Role.MEDIATOR, "cg-a", password=PASSWORD)
    return directory


def fail(directory: Directory, username: str, source: str, times: int = 1) -> None:
    for _ in range(times):
        assert directory.verify_password(username, "a wrong guess", source=source) is None


def test_failures_counted_by_one_process_slow_sign_ins_in_another(
    directory: Directory, database: Database, time: FakeTime
) -> None:
    fail(directory, "mia", "10.1.1.1", times=3)
    other_engine = database.create_engine()
    try:
        other = open_directory(other_engine, time)  # another process on the same database
        with pytest.raises(SignInThrottledError):
            other.verify_password("mia", PASSWORD, source="10.1.1.1")
    finally:
        other_engine.dispose()


def test_unlock_forgets_the_names_failures_from_everywhere_and_each_address_only(
    directory: Directory,
) -> None:
    for n in range(20):  # someone guessing at the name from many addresses
        fail(directory, "mia", f"10.0.0.{n}")
    fail(directory, "mo", "10.1.1.2", times=3)
    fail(directory, "x", "10.1.1.3", times=3)

    unlocked = directory.unlock("mia")

    assert {(f.name, f.address, f.count) for f in unlocked.cleared} == {("mia", None, 20)} | {
        ("mia", f"10.0.0.{n}", 1) for n in range(20)
    }
    assert unlocked.kept == []  # no address failed often enough to slow anyone
    assert directory.verify_password("mia", PASSWORD, source="10.9.9.9") is not None
    with pytest.raises(SignInThrottledError):  # an address's failures for any name are kept
        directory.verify_password("mia", PASSWORD, source="10.1.1.3")
    with pytest.raises(SignInThrottledError):
        directory.verify_password("mo", PASSWORD, source="10.1.1.2")


def test_unlock_names_the_failures_kept_of_an_address_that_still_slows_the_user(
    directory: Directory,
) -> None:
    fail(directory, "mia", "10.1.1.1", times=3)  # the user's own typing, at the office

    unlocked = directory.unlock("mia")

    assert [(f.name, f.address, f.count) for f in unlocked.kept] == [(None, "10.1.1.1", 3)]
    with pytest.raises(SignInThrottledError):
        directory.verify_password("mia", PASSWORD, source="10.1.1.1")


def test_unlock_with_an_address_also_forgets_the_failures_of_that_address_for_any_name(
    directory: Directory,
) -> None:
    for name in ("a", "b", "c"):
        fail(directory, name, "10.6.6.6")

    unlocked = directory.unlock("mia", address="10.6.6.6")

    assert [(f.name, f.address, f.count) for f in unlocked.cleared] == [(None, "10.6.6.6", 3)]
    assert directory.verify_password("mia", PASSWORD, source="10.6.6.6") is not None


@pytest.mark.parametrize(
    ("seen", "typed"),
    [
        ("::ffff:10.6.6.6", "10.6.6.6"),  # an IPv4 client, as a dual-stack socket sees it
        ("2001:db8::6", "2001:DB8:0:0::6"),
        ("2001:db8:0:7:a::1", "2001:db8:0:7::/64"),  # an IPv6 client's failures: its network's
        ("2001:db8:0:7:a::1", "2001:db8:0:7:b::2"),
    ],
)
def test_unlock_with_an_address_finds_its_failures_however_the_address_is_written(
    directory: Directory, seen: str, typed: str
) -> None:
    for name in ("a", "b", "c"):
        fail(directory, name, seen)

    unlocked = directory.unlock("mia", address=typed)

    assert [(f.name, f.count) for f in unlocked.cleared] == [(None, 3)]
    assert directory.verify_password("mia", PASSWORD, source=seen) is not None


def test_an_ipv6_client_counts_by_its_64_network_not_by_each_address_it_picks(
    directory: Directory,
) -> None:
    """Hosts choose their IPv6 addresses within their /64 at will: a guesser taking a new one
    for each try is slowed after three, as one IPv4 address would be."""
    for host in range(3):
        fail(directory, "mia", f"2001:db8:0:7:{host:x}::1")

    with pytest.raises(SignInThrottledError):
        directory.verify_password("mia", PASSWORD, source="2001:db8:0:7:ffff::9")
    assert directory.verify_password("mia", PASSWORD, source="2001:db8:0:8::1") is not None
    assert directory.verify_password("mia", PASSWORD, source="10.7.7.7") is not None
    [kept] = directory.unlock("mia").kept  # after the name's own are cleared
    assert (kept.name, kept.address, kept.count) == (None, "2001:db8:0:7::/64", 3)


def test_unlocking_an_unknown_user_fails_naming_it_and_forgets_nothing(
    directory: Directory,
) -> None:
    fail(directory, "nobody", "10.6.6.6", times=3)

    with pytest.raises(NotFoundError, match="nobody"):
        directory.unlock("nobody", address="10.6.6.6")

    with pytest.raises(SignInThrottledError):
        directory.verify_password("mia", PASSWORD, source="10.6.6.6")


def test_the_throttled_names_are_those_whose_sign_ins_wait_now(
    directory: Directory, time: FakeTime
) -> None:
    fail(directory, "mia", "10.1.1.1", times=3)
    fail(directory, "mo", "10.1.1.2", times=2)

    assert directory.throttled_names() == {"mia"}
    time.now += 1.0  # the first delay has passed: mia may try again
    assert directory.throttled_names() == set()


def test_a_name_typed_with_an_address_in_it_counts_nothing_against_that_users_address(
    directory: Directory,
) -> None:
    # "mia@10.1.1.1" must not be taken for mia signing in from 10.1.1.1 (3 free failures).
    for n in range(3):
        fail(directory, "mia@10.1.1.1", f"10.0.0.{n}")

    assert directory.verify_password("mia", PASSWORD, source="10.1.1.1") is not None


def test_a_clock_set_back_never_makes_a_try_wait_longer_than_its_delay(
    directory: Directory, time: FakeTime
) -> None:
    fail(directory, "mia", "10.1.1.1", times=3)
    time.now -= 3600.0

    with pytest.raises(SignInThrottledError) as throttled:
        directory.verify_password("mia", PASSWORD, source="10.1.1.1")

    assert throttled.value.retry_after == pytest.approx(1.0)


def test_tries_begun_together_in_several_processes_each_count(
    directory: Directory, database: Database, time: FakeTime
) -> None:
    engines = [database.create_engine() for _ in range(8)]
    start = threading.Barrier(len(engines))
    waits: list[float] = []

    def guess(engine: Engine) -> None:
        throttle = Throttle(engine, clock=time)
        start.wait()
        waits.append(throttle.attempt(["user:mia@10.1.1.1"]))

    threads = [threading.Thread(target=guess, args=(engine,)) for engine in engines]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for engine in engines:
            engine.dispose()

    assert sorted(waits) == [0.0] * 3 + [1.0] * 5  # three free tries, whoever made them
