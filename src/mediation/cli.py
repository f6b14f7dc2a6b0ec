"""The `mediation` command: manage centers and users, and serve the API."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated

import typer

from mediation.accounts import Center, Directory, Failures, Unlocked, User
from mediation.domain.errors import (
    DuplicateError,
    InvalidFieldError,
    MediationError,
    NotFoundError,
)
from mediation.operations.cli import audit_app, backup_command, restore_command
from mediation.projections.cli import projections_app
from mediation.rules.cli import rules_app
from mediation.settings import Settings
from mediation.settings_cli import settings_or_exit, started_or_exit
from mediation.store import Database
from mediation.store_lock import hold_store

app = typer.Typer(help=__doc__, no_args_is_help=True)
center_app = typer.Typer(help="Mediation centers and their hierarchy.", no_args_is_help=True)
user_app = typer.Typer(
    help="Staff users, their API tokens and web passwords.", no_args_is_help=True
)
app.add_typer(center_app, name="center")
app.add_typer(user_app, name="user")
app.add_typer(audit_app, name="audit")
app.add_typer(projections_app, name="projections")
app.add_typer(rules_app, name="rules")
app.command("backup")(backup_command)
app.command("restore")(restore_command)

# Errors a user can fix by correcting the command line, like typer's usage errors.
_USAGE_ERRORS = (InvalidFieldError, NotFoundError, DuplicateError)


class StaffRole(StrEnum):
    """The roles a person may hold; `rules` belongs to the automated escalation actor."""

    CLERK = "clerk"
    MEDIATOR = "mediator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


def _settings() -> Settings:
    return settings_or_exit()


@contextmanager
def _exit_codes() -> Iterator[None]:
    """The one place the commands' errors become messages and exit codes."""
    try:
        yield
    except MediationError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2 if isinstance(error, _USAGE_ERRORS) else 1) from None


@contextmanager
def _directory() -> Iterator[Directory]:
    """The configured accounts directory."""
    from mediation.bootstrap import create_accounts, setup_lock  # the composition root

    database = Database(_settings().database_url)
    engine = database.create_engine()
    try:
        with _exit_codes(), hold_store(database):  # no restore replaces the store meanwhile
            directory = Directory(engine)
            with started_or_exit(), setup_lock(engine):  # one process at a time (PostgreSQL)
                create_accounts(database, directory)
            yield directory
    finally:
        engine.dispose()


@center_app.command("add")
def center_add(
    code: str,
    name: Annotated[str, typer.Option(help="Full name, in any language")],
    parent: Annotated[str | None, typer.Option(help="Code of the center one level up")] = None,
) -> None:
    """Add a mediation center, optionally below a parent center."""
    with _directory() as directory:
        center = directory.add_center(code, name, parent=parent)
    typer.echo(f"added center {_describe_center(center)}")


@center_app.command("list")
def center_list() -> None:
    """List every center: code, parent (or -) and name, tab-separated."""
    with _directory() as directory:
        centers = directory.list_centers()
    for center in centers:
        typer.echo(f"{center.code}\t{center.parent or '-'}\t{center.name}")


@center_app.command("webhook")
def center_webhook(
    code: str,
    url: Annotated[
        str | None, typer.Argument(help="http(s) URL to POST the center's notifications to")
    ] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Stop sending to the webhook")] = False,
) -> None:
    """Set, show or remove the URL a center's notifications (escalations) are POSTed to.

    Setting prints a new signing secret alone on the last line: a receiver checks each body's
    X-Mediation-Signature header (sha256=HMAC-SHA256 of the body) with it.
    """
    from mediation.bootstrap import build_services

    if url is not None and remove:
        typer.echo("error: give a URL or --remove, not both", err=True)
        raise typer.Exit(2)
    with started_or_exit():
        services = build_services(_settings())
    try:
        with _exit_codes():
            webhooks = services.webhooks
            if remove:
                webhooks.remove(code)
                typer.echo(f"removed the webhook of {code}")
            elif url is not None:
                secret = webhooks.set(code, url)
                typer.echo(f"notifications of {code} now go to {url}; signing secret:")
                typer.echo(secret)
            else:
                hook = webhooks.describe(code)
                typer.echo(f"url\t{hook.url}")
                typer.echo(f"pending\t{hook.pending}\ndelivered\t{hook.delivered}")
                typer.echo(f"failed\t{hook.failed}\nlast error\t{hook.last_error or '-'}")
    finally:
        services.close()


_PASSWORD_STDIN_HELP = "Read a password for the web pages from the first line of standard input"


def _password_from_stdin() -> str:
    """The first line of standard input, without its line ending (a password may hold blanks)."""
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        typer.echo("error: --password-stdin: standard input holds no password", err=True)
        raise typer.Exit(2)
    return line


@user_app.command("add")
def user_add(
    username: str,
    role: Annotated[StaffRole, typer.Option(help="What the user may do")],
    center: Annotated[str, typer.Option(help="Code of the user's center")],
    password_stdin: Annotated[bool, typer.Option(help=_PASSWORD_STDIN_HELP)] = False,
) -> None:
    """Add a user; the API token is printed once, alone on the last line."""
    password = _password_from_stdin() if password_stdin else None
    with _directory() as directory:
        user, token = directory.add_user(username, role.value, center, password=password)
    signs_in = " with a password for the web pages" if password is not None else ""
    typer.echo(f"added user {_describe_user(user)}{signs_in}; API token (shown only now):")
    typer.echo(token)


@user_app.command("password")
def user_password(
    username: str,
    password_stdin: Annotated[bool, typer.Option(help=_PASSWORD_STDIN_HELP)] = False,
) -> None:
    """Set a user's password for the web pages (asked twice, or read with --password-stdin)."""
    if password_stdin:
        password = _password_from_stdin()
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with _directory() as directory:
        directory.set_password(username, password)
        # They were given a password just now: failures before it must not keep them waiting.
        unlocked = directory.unlock(username)
    typer.echo(f"set the password of {username}; their open web sessions end")
    _report_unlocked(username, unlocked)


@user_app.command("list")
def user_list(
    center: Annotated[str | None, typer.Option(help="Only users of this center")] = None,
) -> None:
    """List users: username, role, center, status and `throttled` if their sign-ins must wait
    now (from anywhere or from some address; else -), tab-separated."""
    with _directory() as directory:
        users = directory.list_users(center=center)
        throttled = directory.throttled_names()
    for user in users:
        status = "disabled" if user.disabled else "enabled"
        waits = "throttled" if user.username.casefold() in throttled else "-"
        typer.echo(f"{user.username}\t{user.role}\t{user.center}\t{status}\t{waits}")


@user_app.command("disable")
def user_disable(username: str) -> None:
    """Disable a user: their API token stops working."""
    with _directory() as directory:
        directory.disable_user(username)
    typer.echo(f"disabled user {username}")


_ADDRESS_HELP = (
    "Also clear this address's failures for any name: everyone signing in from there waits "
    "on them (an office behind one address, say)"
)


@user_app.command("unlock")
def user_unlock(
    username: str,
    address: Annotated[str | None, typer.Option(help=_ADDRESS_HELP)] = None,
) -> None:
    """Lift a user's sign-in throttle, printing what was cleared.

    Forgets the failed sign-ins of their name, from everywhere and from each address.
    """
    with _directory() as directory:
        unlocked = directory.unlock(username, address)
    cleared = unlocked.cleared
    if not any(failures.name is not None for failures in cleared):
        typer.echo(f"no failed sign-ins recorded for {username}")
    if address is not None and not any(failures.name is None for failures in cleared):
        typer.echo(f"no failed sign-ins recorded from {address}")
    _report_unlocked(username, unlocked)


@user_app.command("token")
def user_token(username: str) -> None:
    """Give a user a new API token, printed alone on the last line; the old one stops working."""
    with _directory() as directory:
        token = directory.new_token(username)
    typer.echo(f"new API token for {username} (shown only now):")
    typer.echo(token)


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
) -> None:
    """Serve the HTTP API."""
    # Imported here so that managing accounts needs none of the web stack.
    from mediation.bootstrap import serve

    with started_or_exit():
        serve(_settings(), host=host, port=port)


@app.command("keygen")
def keygen() -> None:
    """Print a new random key, for MEDIATION_CIPHER_KEY or MEDIATION_SESSION_SECRET; keep it safe."""
    from eventsourcing.cipher import AESCipher

    typer.echo(AESCipher.create_key(32))


def _describe_center(center: Center) -> str:
    below = f" below {center.parent}" if center.parent else ""
    return f"{center.code} ({center.name}){below}"


def _describe_user(user: User) -> str:
    return f"{user.username} ({user.role} at {user.center})"


def _report_unlocked(username: str, unlocked: Unlocked) -> None:
    """One line for each record of failures cleared, then one for each kept that still slows
    the user's tries from an address."""
    for failures in unlocked.cleared:
        typer.echo(f"cleared {_failed(failures)} {_whose(username, failures)}")
    for failures in unlocked.kept:
        typer.echo(
            f"kept {_failed(failures)} {_whose(username, failures)}, which still slow "
            f"{username}'s sign-ins from there: --address {failures.address} clears them"
        )


def _failed(failures: Failures) -> str:
    return f"{failures.count} failed sign-in{'' if failures.count == 1 else 's'}"


def _whose(username: str, failures: Failures) -> str:
    if failures.name is None:
        return f"from {failures.address} (any name)"
    if failures.address is None:
        return f"of {username} from anywhere"
    return f"of {username} from {failures.address or 'an unknown address'}"


def main() -> None:
    """Run the `mediation` command."""
    app()


if __name__ == "__main__":
    main()
