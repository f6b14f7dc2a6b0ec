"""The accounts directory against real databases: SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select

from mediation.accounts import Center, Directory, Principal, User
from mediation.accounts.tables import CenterRow, UserRow
from mediation.domain.errors import DuplicateError, InvalidFieldError, NotFoundError
from mediation.domain.values import Role
from mediation.store import Database

LHASA_CHENGGUAN = "拉萨市城关区矛盾纠纷调解中心"
LHASA_BO = "ལྷ་ས་"


@pytest.fixture
def engine(database: Database) -> Iterator[Engine]:
    engine = database.create_engine()
    yield engine
    engine.dispose()


@pytest.fixture
def directory(engine: Engine) -> Directory:
    directory = Directory(engine)
    directory.create_schema()
    return directory


@pytest.fixture
def hierarchy(directory: Directory) -> Directory:
    """city -> two districts; one district -> a township."""
    directory.add_center("lhasa", "拉萨市矛盾纠纷调解中心")
    directory.add_center("chengguan", LHASA_CHENGGUAN, parent="lhasa")
    directory.add_center("duilongdeqing", "堆龙德庆区矛盾纠纷调解中心", parent="lhasa")
    directory.add_center("bakuo", "八廓街道调解中心", parent="chengguan")
    return directory


def _row_counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        centers = conn.scalar(select(func.count()).select_from(CenterRow))
        users = conn.scalar(select(func.count()).select_from(UserRow))
    return centers or 0, users or 0


def test_creating_the_schema_twice_is_harmless(directory: Directory) -> None:
    directory.create_schema()
    assert directory.list_centers() == []


def test_centers_within_holds_the_center_and_everything_below_it(hierarchy: Directory) -> None:
    assert hierarchy.centers_within("lhasa") == {
        "lhasa",
        "chengguan",
        "duilongdeqing",
        "bakuo",
    }
    assert hierarchy.centers_within("chengguan") == {"chengguan", "bakuo"}
    assert hierarchy.centers_within("bakuo") == {"bakuo"}


def test_parent_of_goes_one_level_up_and_is_none_at_the_top(hierarchy: Directory) -> None:
    assert hierarchy.parent_of("bakuo") == "chengguan"
    assert hierarchy.parent_of("chengguan") == "lhasa"
    assert hierarchy.parent_of("lhasa") is None


def test_is_within_holds_for_the_center_itself_and_below_but_not_beside_or_above(
    hierarchy: Directory,
) -> None:
    assert hierarchy.is_within("bakuo", "lhasa")
    assert hierarchy.is_within("bakuo", "chengguan")
    assert hierarchy.is_within("bakuo", "bakuo")
    assert not hierarchy.is_within("bakuo", "duilongdeqing")
    assert not hierarchy.is_within("lhasa", "chengguan")
    assert not hierarchy.is_within("nowhere", "lhasa")


def test_the_hierarchy_of_an_unknown_center_is_not_found(hierarchy: Directory) -> None:
    with pytest.raises(NotFoundError, match="nowhere"):
        hierarchy.parent_of("nowhere")
    with pytest.raises(NotFoundError, match="nowhere"):
        hierarchy.centers_within("nowhere")


def test_chinese_and_tibetan_names_round_trip(directory: Directory) -> None:
    directory.add_center("chengguan", LHASA_CHENGGUAN)
    directory.add_center("lhasa-bo", LHASA_BO, parent="chengguan")

    assert directory.center("chengguan") == Center("chengguan", LHASA_CHENGGUAN, None)
    assert directory.center("lhasa-bo") == Center("lhasa-bo", LHASA_BO, "chengguan")
    assert [c.name for c in directory.list_centers()] == [LHASA_CHENGGUAN, LHASA_BO]


def test_an_unknown_center_or_user_is_none(directory: Directory) -> None:
    assert directory.center("nowhere") is None
    assert directory.user("nobody") is None


def test_a_new_users_token_authenticates_as_that_user(hierarchy: Directory) -> None:
    user, token = hierarchy.add_user("dawa", Role.MEDIATOR, "bakuo")

    assert user == User("dawa", Role.MEDIATOR, "bakuo", disabled=False)
    assert token.startswith("med_")
    assert hierarchy.authenticate(token) == Principal("dawa", Role.MEDIATOR, "bakuo")


def test_only_the_hash_of_a_token_is_stored(hierarchy: Directory, engine: Engine) -> None:
    _, token = hierarchy.add_user("dawa", "clerk", "bakuo")

    with engine.connect() as conn:
        row = conn.execute(select(UserRow.__table__)).one()
    assert token not in [str(value) for value in row]
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()


def test_tokens_are_distinct_per_user(hierarchy: Directory) -> None:
    _, first = hierarchy.add_user("dawa", "clerk", "bakuo")
    _, second = hierarchy.add_user("zhuoma", "clerk", "bakuo")

    assert first != second
    assert hierarchy.authenticate(second) == Principal("zhuoma", Role.CLERK, "bakuo")


@pytest.mark.parametrize("token", ["", "med_", "med_not-a-real-token", "x" * 500])
def test_an_unknown_token_does_not_authenticate(hierarchy: Directory, token: str) -> None:
    hierarchy.add_user("dawa", "clerk", "bakuo")

    assert hierarchy.authenticate(token) is None


def test_a_disabled_user_no_longer_authenticates(hierarchy: Directory) -> None:
    _, token = hierarchy.add_user("dawa", "supervisor", "lhasa")

    hierarchy.disable_user("dawa")

    assert hierarchy.authenticate(token) is None
    assert hierarchy.user("dawa") == User("dawa", Role.SUPERVISOR, "lhasa", disabled=True)


def test_a_new_token_replaces_the_old_one(hierarchy: Directory) -> None:
    _, old = hierarchy.add_user("dawa", "admin", "lhasa")

    new = hierarchy.new_token("dawa")

    assert new != old
    assert hierarchy.authenticate(old) is None
    assert hierarchy.authenticate(new) == Principal("dawa", Role.ADMIN, "lhasa")


def test_disabling_or_rotating_an_unknown_user_is_not_found(hierarchy: Directory) -> None:
    with pytest.raises(NotFoundError, match="nobody"):
        hierarchy.disable_user("nobody")
    with pytest.raises(NotFoundError, match="nobody"):
        hierarchy.new_token("nobody")


def test_is_mediator_of_means_an_enabled_mediator_at_exactly_that_center(
    hierarchy: Directory,
) -> None:
    hierarchy.add_user("dawa", "mediator", "bakuo")
    hierarchy.add_user("zhuoma", "clerk", "bakuo")
    hierarchy.add_user("tenzin", "mediator", "bakuo")
    hierarchy.disable_user("tenzin")

    assert hierarchy.is_mediator_of("dawa", "bakuo")
    assert not hierarchy.is_mediator_of("dawa", "chengguan")
    assert not hierarchy.is_mediator_of("zhuoma", "bakuo")
    assert not hierarchy.is_mediator_of("tenzin", "bakuo")
    assert not hierarchy.is_mediator_of("nobody", "bakuo")


def test_users_are_listed_by_username_for_all_or_one_center(hierarchy: Directory) -> None:
    hierarchy.add_user("zhuoma", "clerk", "bakuo")
    hierarchy.add_user("dawa", "mediator", "bakuo")
    hierarchy.add_user("pema", "supervisor", "lhasa")

    assert [u.username for u in hierarchy.list_users()] == ["dawa", "pema", "zhuoma"]
    assert [u.username for u in hierarchy.list_users(center="bakuo")] == ["dawa", "zhuoma"]
    with pytest.raises(NotFoundError, match="nowhere"):
        hierarchy.list_users(center="nowhere")


def test_adding_a_duplicate_center_is_refused_and_writes_nothing(
    hierarchy: Directory, engine: Engine
) -> None:
    before = _row_counts(engine)

    with pytest.raises(DuplicateError, match="chengguan"):
        hierarchy.add_center("chengguan", "another name")

    assert _row_counts(engine) == before
    assert hierarchy.center("chengguan") == Center("chengguan", LHASA_CHENGGUAN, "lhasa")


def test_adding_a_center_below_an_unknown_parent_is_refused_and_writes_nothing(
    hierarchy: Directory, engine: Engine
) -> None:
    before = _row_counts(engine)

    with pytest.raises(NotFoundError, match="nowhere"):
        hierarchy.add_center("nyetang", "聂当调解中心", parent="nowhere")

    assert _row_counts(engine) == before


def test_a_center_name_with_a_control_character_is_refused_and_writes_nothing(
    hierarchy: Directory, engine: Engine
) -> None:
    before = _row_counts(engine)

    with pytest.raises(InvalidFieldError, match="control characters") as refused:
        hierarchy.add_center("nyetang", "聂当调解中心\x00", parent="lhasa")

    assert refused.value.field == "name"
    assert _row_counts(engine) == before


def test_adding_a_duplicate_user_is_refused_and_keeps_the_first(
    hierarchy: Directory, engine: Engine
) -> None:
    _, token = hierarchy.add_user("dawa", "mediator", "bakuo")
    before = _row_counts(engine)

    with pytest.raises(DuplicateError, match="dawa"):
        hierarchy.add_user("dawa", "admin", "lhasa")

    assert _row_counts(engine) == before
    assert hierarchy.authenticate(token) == Principal("dawa", Role.MEDIATOR, "bakuo")


def test_adding_a_user_to_an_unknown_center_is_refused_and_writes_nothing(
    hierarchy: Directory, engine: Engine
) -> None:
    before = _row_counts(engine)

    with pytest.raises(NotFoundError, match="nowhere"):
        hierarchy.add_user("dawa", "clerk", "nowhere")

    assert _row_counts(engine) == before
    assert hierarchy.user("dawa") is None


@pytest.mark.parametrize("role", ["rules", Role.RULES, "judge", "Clerk", ""])
def test_a_role_other_than_a_staff_role_is_refused_and_writes_nothing(
    hierarchy: Directory, engine: Engine, role: str
) -> None:
    before = _row_counts(engine)

    with pytest.raises(InvalidFieldError) as refused:
        hierarchy.add_user("dawa", role, "bakuo")

    assert refused.value.field == "role"
    assert _row_counts(engine) == before


@pytest.mark.parametrize("code", ["", "has space", "x" * 33, "拉萨", "a/b", "line\n"])
def test_a_badly_formed_center_code_is_refused_and_writes_nothing(
    directory: Directory, engine: Engine, code: str
) -> None:
    with pytest.raises(InvalidFieldError) as refused:
        directory.add_center(code, "调解中心")

    assert refused.value.field == "code"
    assert _row_counts(engine) == (0, 0)


def test_the_longest_allowed_code_and_username_are_accepted(directory: Directory) -> None:
    code, username = "C" * 32, "u.s-e_r" + "x" * 57
    directory.add_center(code, "调解中心")
    directory.add_user(username, "clerk", code)

    assert directory.user(username) == User(username, Role.CLERK, code, disabled=False)


@pytest.mark.parametrize("username", ["", "has space", "x" * 65, "达瓦", "a:b"])
def test_a_badly_formed_username_is_refused_and_writes_nothing(
    hierarchy: Directory, engine: Engine, username: str
) -> None:
    before = _row_counts(engine)

    with pytest.raises(InvalidFieldError) as refused:
        hierarchy.add_user(username, "clerk", "bakuo")

    assert refused.value.field == "username"
    assert _row_counts(engine) == before


@pytest.mark.parametrize("name", ["", "   ", "名" * 201])
def test_a_blank_or_overlong_center_name_is_refused(
    directory: Directory, engine: Engine, name: str
) -> None:
    with pytest.raises(InvalidFieldError) as refused:
        directory.add_center("lhasa", name)

    assert refused.value.field == "name"
    assert _row_counts(engine) == (0, 0)


def test_signing_in_with_a_name_no_user_can_have_is_a_plain_refusal(
    hierarchy: Directory,
) -> None:
    hierarchy.add_user("dawa", "mediator", "bakuo")
    hierarchy.set_password("dawa", "a long enough password")

    # A NUL would fail in PostgreSQL's text comparison: such a name is not looked up at all.
    assert hierarchy.verify_password("dawa\x00", "a long enough password") is None
    assert hierarchy.verify_password("da wa", "a long enough password") is None
    assert hierarchy.verify_password("dawa", "a long enough password") is not None


def test_looking_up_text_no_code_or_username_can_be_finds_nothing(hierarchy: Directory) -> None:
    hierarchy.add_user("dawa", "mediator", "bakuo")

    assert hierarchy.center("lhasa\x00") is None  # not sent to the database at all
    assert hierarchy.user("dawa\x00") is None
    assert hierarchy.center("lhasa") is not None
    assert hierarchy.user("dawa") is not None
