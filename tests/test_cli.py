"""The `mediation` command line, against a SQLite database named in the environment."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from mediation.accounts import Directory, Principal
from mediation.bootstrap import build_services
from mediation.cli import app
from mediation.domain import commands as c
from mediation.domain.values import Actor, Channel, PartyRole, Role
from mediation.settings import Settings
from mediation.store import Database
from mediation.workflows.registry import BUILT_IN
from tests.support import make_org


@pytest.fixture
def configured_database(sqlite_database: Database, monkeypatch: pytest.MonkeyPatch) -> Database:
    monkeypatch.setenv("MEDIATION_DATABASE_URL", sqlite_database.url)
    return sqlite_database


@pytest.fixture
def directory(configured_database: Database) -> Iterator[Directory]:
    engine = configured_database.create_engine()
    directory = Directory(engine)
    directory.create_schema()
    yield directory
    engine.dispose()


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def center(configured_database: Database) -> str:
    result = run("center", "add", "chengguan", "--name", "拉萨市城关区矛盾纠纷调解中心")
    assert result.exit_code == 0, result.output
    return "chengguan"


def test_center_add_then_list_shows_it_with_its_parent(center: str) -> None:
    added = run("center", "add", "bakuo", "--name", "བར་སྐོར།", "--parent", center)
    listed = run("center", "list")

    assert added.exit_code == 0, added.output
    assert listed.stdout.splitlines() == [
        "bakuo\tchengguan\tབར་སྐོར།",
        "chengguan\t-\t拉萨市城关区矛盾纠纷调解中心",
    ]


def test_user_add_prints_the_token_alone_as_the_last_line_and_it_authenticates(
    center: str, directory: Directory
) -> None:
    result = run("user", "add", "dawa", "--role", "mediator", "--center", center)

    assert result.exit_code == 0, result.output
    *confirmation, token = result.stdout.splitlines()
    assert "dawa" in "\n".join(confirmation)
    assert directory.authenticate(token) == Principal("dawa", Role.MEDIATOR, center)


def test_user_token_prints_a_new_token_last_and_the_old_one_stops_working(
    center: str, directory: Directory
) -> None:
    old = run("user", "add", "dawa", "--role", "clerk", "--center", center).stdout.splitlines()[-1]

    result = run("user", "token", "dawa")

    assert result.exit_code == 0, result.output
    new = result.stdout.splitlines()[-1]
    assert directory.authenticate(old) is None
    assert directory.authenticate(new) == Principal("dawa", Role.CLERK, center)


def test_user_disable_stops_the_token_and_shows_in_the_list(
    center: str, directory: Directory
) -> None:
    token = run("user", "add", "dawa", "--role", "clerk", "--center", center).stdout.split()[-1]

    result = run("user", "disable", "dawa")

    assert result.exit_code == 0, result.output
    assert directory.authenticate(token) is None
    assert run("user", "list", "--center", center).stdout == "dawa\tclerk\tchengguan\tdisabled\t-\n"


def test_adding_a_duplicate_user_fails_naming_the_user(center: str) -> None:
    run("user", "add", "dawa", "--role", "clerk", "--center", center)

    result = run("user", "add", "dawa", "--role", "admin", "--center", center)

    assert result.exit_code == 2
    assert result.stderr == "error: user 'dawa' already exists\n"
    assert result.stdout == ""


@pytest.mark.usefixtures("configured_database")
def test_adding_a_user_to_an_unknown_center_fails_naming_the_center() -> None:
    result = run("user", "add", "dawa", "--role", "clerk", "--center", "nowhere")

    assert result.exit_code == 2
    assert result.stderr == "error: center 'nowhere' not found\n"
    assert run("user", "list").stdout == ""


@pytest.mark.parametrize("role", ["rules", "judge"])
def test_a_role_other_than_a_staff_role_fails_naming_the_option(center: str, role: str) -> None:
    result = run("user", "add", "dawa", "--role", role, "--center", center)

    assert result.exit_code == 2
    assert "--role" in result.stderr
    assert run("user", "list").stdout == ""


@pytest.mark.usefixtures("configured_database")
def test_a_badly_formed_center_code_fails_naming_the_field() -> None:
    result = run("center", "add", "has space", "--name", "调解中心")

    assert result.exit_code == 2
    assert result.stderr.startswith("error: code: 'has space' is not")


@pytest.mark.usefixtures("configured_database")
def test_a_center_below_an_unknown_parent_fails_naming_the_parent() -> None:
    result = run("center", "add", "bakuo", "--name", "调解中心", "--parent", "nowhere")

    assert result.exit_code == 2
    assert result.stderr == "error: center 'nowhere' not found\n"
    assert run("center", "list").stdout == ""


@pytest.mark.usefixtures("configured_database")
def test_disabling_an_unknown_user_fails_naming_the_user() -> None:
    result = run("user", "disable", "nobody")

    assert result.exit_code == 2
    assert result.stderr == "error: user 'nobody' not found\n"


def test_a_database_url_of_an_unknown_kind_is_named_in_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MEDIATION_DATABASE_URL", "mysql://somewhere/db")

    result = run("center", "list")

    assert result.exit_code == 2
    assert "MEDIATION_DATABASE_URL" in result.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MEDIATION_DATABASE_URL", "sqlite://"),  # an in-memory store would keep nothing
        ("MEDIATION_DATABASE_URL", "sqlite:///:memory:"),
        ("MEDIATION_WORKFLOWS_DIR", "/no/such/folder"),
        ("MEDIATION_LOG_LEVEL", "verbose"),
        ("MEDIATION_PARTY_HASH_SALT", "short"),
        ("MEDIATION_TRUSTED_PROXIES", "proxy.example.org"),  # an address, not a name
        ("MEDIATION_TRUSTED_PROXIES", "*,10.0.0.1"),
        ("MEDIATION_TRUSTED_PROXIES", " , "),
        # Options the event store would not see: a half-encrypted deployment, say.
        ("MEDIATION_DATABASE_URL", "postgresql://u@127.0.0.1/db?sslmode=require"),
    ],
)
def test_a_setting_that_would_be_ignored_or_fail_later_is_refused_at_once_naming_it(
    configured_database: Database, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)

    result = run("center", "list")

    assert result.exit_code == 2, result.output
    assert variable in result.stderr
    assert "Traceback" not in result.output


def test_an_empty_workflows_folder_setting_is_taken_for_unset(
    configured_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDIATION_WORKFLOWS_DIR", "")

    assert Settings().workflows_dir is None  # not the current folder, with pyproject.toml in it


def test_trusted_proxies_are_read_as_uvicorn_reads_them() -> None:
    assert Settings().trusted_proxies == "127.0.0.1,::1"  # a proxy on this machine
    assert Settings(trusted_proxies=" 10.0.0.5 , 10.1.2.3/16,fd00::/8").trusted_proxies == (
        "10.0.0.5,10.1.0.0/16,fd00::/8"  # a network by its first address
    )
    assert Settings(trusted_proxies="*").trusted_proxies == "*"


def test_request_threads_default_by_database_and_a_bad_value_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sqlite = Settings(database_url="sqlite:///here.db")
    postgres = Settings(database_url="postgresql://postgres@127.0.0.1/test")
    chosen = Settings(database_url="sqlite:///here.db", request_threads=8)
    monkeypatch.setenv("MEDIATION_REQUEST_THREADS", "0")

    result = run("center", "list")

    assert (sqlite.threads_for_requests(), postgres.threads_for_requests()) == (2, 40)
    assert chosen.threads_for_requests() == 8
    assert result.exit_code == 2
    assert "MEDIATION_REQUEST_THREADS" in result.stderr


def test_serve_refuses_to_start_on_a_broken_workflow_definition(
    configured_database: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    text = (BUILT_IN / "dispute.v1.toml").read_text(encoding="utf-8")
    broken = text.replace("version = 1", "version = 7").replace(
        'roles = ["mediator"]\n', 'roles = ["mediator", "janitor"]\n', 1
    )
    (tmp_path / "dispute.v7.toml").write_text(broken, encoding="utf-8")
    monkeypatch.setenv("MEDIATION_WORKFLOWS_DIR", str(tmp_path))

    result = run("serve", "--port", "1")

    assert result.exit_code == 1
    assert str(tmp_path / "dispute.v7.toml") in result.stderr
    assert "actions.record_consent.roles[1]: unknown role 'janitor'" in result.stderr


def test_center_webhook_sets_shows_and_removes_printing_the_secret_last(center: str) -> None:
    url = "https://hooks.example.org/mediation"

    added = run("center", "webhook", center, url)
    shown = run("center", "webhook", center)
    removed = run("center", "webhook", center, "--remove")
    gone = run("center", "webhook", center)

    assert added.exit_code == 0, added.output
    *said, secret = added.stdout.splitlines()
    assert url in "\n".join(said)
    assert len(secret) >= 40
    assert shown.stdout.splitlines()[:3] == [f"url\t{url}", "pending\t0", "delivered\t0"]
    assert removed.exit_code == 0, removed.output
    assert gone.exit_code == 2
    assert f"{center!r} has no webhook" in gone.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("chengguan", "ftp://example.org/x"), "url: 'ftp://example.org/x' is not an http"),
        (("nowhere", "https://example.org/x"), "no center 'nowhere'"),
        (("chengguan", "https://example.org/x", "--remove"), "a URL or --remove, not both"),
    ],
)
def test_center_webhook_refuses_bad_input_with_a_message_and_exit_2(
    center: str, args: tuple[str, ...], message: str
) -> None:
    result = run("center", "webhook", *args)

    assert result.exit_code == 2
    assert message in result.stderr
    assert "has no webhook" in run("center", "webhook", "chengguan").stderr


def test_center_webhook_refuses_an_internal_address_unless_the_operator_allows_them(
    center: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    public, metadata = "https://hooks.example.org/mediation", "http://169.254.169.254/latest/"
    run("center", "webhook", center, public)

    refused = run("center", "webhook", center, metadata)
    kept = run("center", "webhook", center)
    monkeypatch.setenv("MEDIATION_WEBHOOKS_ALLOW_PRIVATE", "true")
    allowed = run("center", "webhook", center, metadata)

    assert refused.exit_code == 2
    assert "error: url: 169.254.169.254 is a link-local address" in refused.stderr
    assert "MEDIATION_WEBHOOKS_ALLOW_PRIVATE=true" in refused.stderr
    assert kept.stdout.splitlines()[0] == f"url\t{public}"
    assert allowed.exit_code == 0, allowed.output
    assert run("center", "webhook", center).stdout.splitlines()[0] == f"url\t{metadata}"


@pytest.mark.postgres
def test_account_commands_started_together_on_an_empty_postgresql_store_all_succeed(
    postgres_database_url: str,
) -> None:
    """Each creates the accounts' tables it finds missing: one at a time, as the service does
    (two at once failed with a unique violation on PostgreSQL's catalogue)."""
    env = {**os.environ, "MEDIATION_DATABASE_URL": postgres_database_url}
    commands = [["center", "list"], ["user", "list"], ["center", "list"], ["user", "list"]]
    started = [
        subprocess.Popen(
            [sys.executable, "-m", "mediation.cli", *command],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in commands
    ]
    outcomes = [(process.wait(timeout=120), process.communicate()[1]) for process in started]

    assert [code for code, _err in outcomes] == [0] * len(commands), outcomes


@pytest.mark.parametrize(
    "command",
    [["rules", "run-once"], ["projections", "status"], ["center", "webhook", "chengguan"]],
)
def test_a_command_on_a_store_its_key_cannot_read_says_so_without_a_traceback(
    configured_database: Database, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    ours, theirs = (base64.b64encode(bytes([n]) * 32).decode() for n in (1, 2))
    monkeypatch.setenv("MEDIATION_CIPHER_KEY", ours)
    services = build_services(Settings())
    try:
        make_org(services)
        services.cases.register(
            c.Register("land", Channel.GRID, "宅基地 boundary", parties=PARTIES),
            Actor("clerk", Role.CLERK, "cg-a"),
        )
    finally:
        services.close()
    monkeypatch.setenv("MEDIATION_CIPHER_KEY", theirs)

    result = run(*command)

    assert result.exit_code == 1
    assert "cannot be read with this configuration" in result.stderr
    assert "Traceback" not in result.output


PARTIES = (
    c.NewParty(PartyRole.APPLICANT, "次仁"),
    c.NewParty(PartyRole.RESPONDENT, "卓玛"),
)


@pytest.mark.parametrize(
    "command", [["center", "list"], ["rules", "run-once"], ["projections", "status"]]
)
@pytest.mark.parametrize(
    "url", ["sqlite:////no/such/folder/mediation.db", "postgresql://nobody:sekrit@127.0.0.1:1/x"]
)
def test_a_database_that_cannot_be_opened_is_named_without_a_traceback_or_its_password(
    monkeypatch: pytest.MonkeyPatch, url: str, command: list[str]
) -> None:
    monkeypatch.setenv("MEDIATION_DATABASE_URL", url)

    result = run(*command)

    assert result.exit_code == 1
    assert "cannot open the database of MEDIATION_DATABASE_URL" in result.stderr
    assert "Traceback" not in result.output
    assert "sekrit" not in result.output


@pytest.mark.postgres
def test_a_schema_named_in_the_url_is_made_when_missing(
    postgres_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    schema = f"new_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("MEDIATION_DATABASE_URL", f"{postgres_database_url}?schema={schema}")

    added = run("center", "add", "chengguan", "--name", "城关区")
    services = build_services(Settings())  # the event store and the views in it too
    try:
        centers = [center.code for center in services.directory.list_centers()]
    finally:
        services.close()

    assert added.exit_code == 0, added.output
    assert centers == ["chengguan"]
