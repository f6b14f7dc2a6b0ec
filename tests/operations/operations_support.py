"""Helpers for the operations tests: the commands as the lead registers them, cases, tampering."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from uuid import UUID

import pytest
import typer
from sqlalchemy import text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner, Result

from mediation.bootstrap import Services
from mediation.domain import commands as c
from mediation.domain.values import Actor, Channel, PartyRole
from mediation.operations.audit import stored_case_ids
from mediation.operations.cli import audit_app, backup_command, restore_command
from mediation.store import Database
from tests.support import FakeClock, build_test_services, make_org

# Registered as `mediation.cli` registers them.
app = typer.Typer()
app.add_typer(audit_app, name="audit")
app.command("backup")(backup_command)
app.command("restore")(restore_command)


def configure(monkeypatch: pytest.MonkeyPatch, database: Database) -> None:
    """Point the commands at `database`, as a deployment's environment would."""
    monkeypatch.setenv("MEDIATION_DATABASE_URL", database.url)
    monkeypatch.delenv("MEDIATION_CIPHER_KEY", raising=False)


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def stored_cases(database: Database, clock: FakeClock) -> set[UUID]:
    """The cases stored in `database`, read by services opened for it alone."""
    services = build_test_services(database, clock)
    try:
        return set(stored_case_ids(services.cases))
    finally:
        services.close()


def a_case(services: Services, clerk: Actor, notes: int = 2) -> UUID:
    """A registered, accepted case with `notes` notes: version 2 + notes."""
    case_id = services.cases.register(
        c.Register(
            dispute_type="land",
            channel=Channel.GRID,
            summary="宅基地边界争议 boundary of a homestead",
            parties=(
                c.NewParty(PartyRole.APPLICANT, "次仁", phone="13800000001"),
                c.NewParty(PartyRole.RESPONDENT, "卓玛"),
            ),
        ),
        clerk,
    ).view.id
    services.cases.act(case_id, c.Accept(), clerk)
    for number in range(notes):
        services.cases.act(case_id, c.AddNote(f"第{number + 1}次查看 visit {number + 1}"), clerk)
    return case_id


def backed_up_between_two_cases(
    database: Database, clock: FakeClock, backup: Path
) -> tuple[UUID, UUID]:
    """Two cases in the store, and a backup in `backup` taken when it held the first alone;
    the services are closed after, so this process holds nothing open. The two cases' ids."""
    services = build_test_services(database, clock)
    try:
        clerk = make_org(services).actors["clerk"]
        kept = a_case(services, clerk)
        assert run("backup", str(backup)).exit_code == 0
        return kept, a_case(services, clerk)
    finally:
        services.close()


def run_postgres_tool(command: list[str], database: Database) -> None:
    """Run pg_dump, createdb or pg_restore as printed for `database`, with its password in
    PGPASSWORD (never on the command line); it must succeed."""
    password = make_url(database.url).password or ""
    env = os.environ | ({"PGPASSWORD": password} if password else {})
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{command[0]}: {done.stderr}"


def _table(services: Services) -> str:
    return "stored_events" if services.database.is_sqlite else "mediation_events"


def _key(services: Services, case_id: UUID) -> str | UUID:
    return case_id.hex if services.database.is_sqlite else case_id


def edit_event(services: Services, case_id: UUID, version: int, change: dict[str, str]) -> None:
    """Change fields of one stored event's state, by SQL behind the application's back."""
    where = "originator_id = :id AND originator_version = :v"
    key = {"id": _key(services, case_id), "v": version}
    with services.engine.begin() as conn:
        state = conn.execute(
            text(f"SELECT state FROM {_table(services)} WHERE {where}"), key
        ).scalar_one()
        data = json.loads(bytes(state)) | change
        new = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
        conn.execute(
            text(f"UPDATE {_table(services)} SET state = :s WHERE {where}"), key | {"s": new}
        )


def cut_events(services: Services, case_id: UUID, first: int, last: int | None = None) -> None:
    """Delete a case's stored events from version `first` to `last` (default: the end)."""
    where = "originator_id = :id AND originator_version BETWEEN :first AND :last"
    with services.engine.begin() as conn:
        conn.execute(
            text(f"DELETE FROM {_table(services)} WHERE {where}"),
            {"id": _key(services, case_id), "first": first, "last": last or 2**31 - 1},
        )


def damage_event(services: Services, case_id: UUID, version: int) -> None:
    """Cut one stored event's state short, so that nothing can decode it."""
    where = "originator_id = :id AND originator_version = :v"
    with services.engine.begin() as conn:
        conn.execute(
            text(f"UPDATE {_table(services)} SET state = substr(state, 1, 20) WHERE {where}"),
            {"id": _key(services, case_id), "v": version},
        )
