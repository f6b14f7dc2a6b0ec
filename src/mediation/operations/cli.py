"""Commands for running a deployment: `audit verify|anchor`, `backup`, `restore`.

Registered on the `mediation` command by `mediation.cli`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn
from uuid import UUID

import typer

from mediation.bootstrap import (
    KEY_SAMPLE,
    Services,
    StoreKeyError,
    build_services,
    check_backup_readable,
)
from mediation.calendars import CalendarError
from mediation.domain.errors import (
    ConflictError,
    InvalidFieldError,
    MediationError,
    NotFoundError,
)
from mediation.operations import audit
from mediation.operations.backup import (
    backup_sqlite,
    check_backup,
    postgres_commands,
    rebuild_views,
    restore_sqlite,
    sample_events,
)
from mediation.settings import Settings
from mediation.settings_cli import settings_or_exit
from mediation.store import Database
from mediation.store_lock import hold_store
from mediation.workflows import DefinitionError

audit_app = typer.Typer(
    help="Prove that no case's stored history was edited, reordered or cut.",
    no_args_is_help=True,
)

# Errors a user fixes by correcting the command line: exit 2, like typer's usage errors.
_USAGE_ERRORS = (InvalidFieldError, NotFoundError, ConflictError)
_START_ERRORS = (StoreKeyError, DefinitionError, CalendarError)
_ANCHORS_HELP = (
    "Also check each case against this file of `audit anchor` (caught: cut or edited ends)"
)


def _settings() -> Settings:
    return settings_or_exit()


@contextmanager
def _reported() -> Iterator[None]:
    """The one place where these commands' errors become messages and exit codes."""
    try:
        yield
    except MediationError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2 if isinstance(error, _USAGE_ERRORS) else 1) from None
    except _START_ERRORS as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None


@contextmanager
def _services(settings: Settings) -> Iterator[Services]:
    services = build_services(settings)
    try:
        yield services
    finally:
        services.close()


def _verify(services: Services, case_ids: Sequence[UUID], anchors: dict[UUID, audit.Anchor]) -> int:
    """Check the cases with a progress bar on a terminal; print each broken one; how many."""
    findings = []
    with typer.progressbar(case_ids, label="verifying", file=sys.stderr) as progress:
        for case_id in progress:
            finding = audit.check_case(services.cases, case_id, anchors.get(case_id))
            if finding is not None:
                findings.append(finding)
    for finding in findings:
        typer.echo(f"{finding.case_id}: {finding.problem}")
    checked = f"{len(case_ids)} case(s)" + (f", {len(anchors)} anchored" if anchors else "")
    verdict = f"{len(findings)} broken" if findings else "every history intact"
    typer.echo(f"checked {checked}: {verdict}", err=True)
    return len(findings)


@audit_app.command("verify")
def audit_verify(
    case: Annotated[
        UUID | None, typer.Argument(help="Only this case (default: every case)")
    ] = None,
    anchors: Annotated[Path | None, typer.Option(help=_ANCHORS_HELP)] = None,
) -> None:
    """Check every case's hash chain (and anchors); name each broken case; exit 1 if any."""
    settings = _settings()
    with _reported():
        anchored = audit.read_anchors(anchors) if anchors is not None else {}
        with _services(settings) as services:
            # One named case: a case with no stored event and no anchor is "not found" (exit 2).
            case_ids = [case] if case else audit.cases_to_check(services.cases, anchored)
            broken = _verify(services, case_ids, anchored)
    if broken:
        raise typer.Exit(1)


@audit_app.command("anchor")
def audit_anchor(
    out: Annotated[Path, typer.Option(help="JSON file to write; keep it outside the database")],
) -> None:
    """Record every intact case's event count and last digest, for `audit verify --anchors`."""
    settings = _settings()
    if not out.parent.is_dir() or out.is_dir():  # told now, not after the whole pass
        typer.echo(f"error: cannot write {out}: no such folder, or it is a folder", err=True)
        raise typer.Exit(2)
    with _reported(), _services(settings) as services:
        anchors, broken = audit.take_anchors(services.cases)
        audit.write_anchors(out, anchors, datetime.now(UTC))
    for finding in broken:
        typer.echo(f"{finding.case_id}: {finding.problem} (not anchored)")
    typer.echo(f"anchored {len(anchors)} case(s) in {out}", err=True)
    if broken:
        raise typer.Exit(1)


def backup_command(
    file: Annotated[Path, typer.Argument(help="Backup file to write (replaced when complete)")],
) -> None:
    """Back up the SQLite store while the service runs (for PostgreSQL, prints pg_dump's use)."""
    settings = _settings()
    database = Database(settings.database_url)
    if not database.is_sqlite:
        _postgres_instead(database, file)
    with _reported():
        backup_sqlite(database, file)
    typer.echo(f"backed up {database.url} to {file}")


def restore_command(
    file: Annotated[Path, typer.Argument(help="Backup file written by `mediation backup`")],
    force: Annotated[bool, typer.Option(help="Replace a store that holds data")] = False,
) -> None:
    """Restore the SQLite store from a backup, verify every case, rebuild the views; refused
    while any mediation process (the service, a worker) has the store open."""
    settings = _settings()
    database = Database(settings.database_url)
    if not database.is_sqlite:
        _postgres_instead(database, file)
    with _reported():
        check_backup(file)
        check_backup_readable(settings, sample_events(file, KEY_SAMPLE))  # before replacing
        # Held until the views are rebuilt: no service starts on a store half restored.
        with hold_store(database, exclusive=True):
            restore_sqlite(file, database, force=force)
            typer.echo(f"restored {file} into {database.url}; verifying", err=True)
            with _services(settings) as services:
                broken = _verify(services, audit.stored_case_ids(services.cases), {})
                if not broken:
                    rebuilt = rebuild_views(services.projections)
                    typer.echo(f"rebuilt views: {', '.join(rebuilt)}", err=True)
    if broken:
        raise typer.Exit(1)


def _postgres_instead(database: Database, file: Path) -> NoReturn:
    commands = postgres_commands(database, file, into="mediation_restored")
    typer.echo("error: on PostgreSQL, back up and restore with pg_dump and pg_restore:", err=True)
    for line in commands.lines():
        typer.echo(f"  {line}", err=True)
    typer.echo(f"  MEDIATION_DATABASE_URL={commands.database_url} mediation audit verify", err=True)
    raise typer.Exit(2)
