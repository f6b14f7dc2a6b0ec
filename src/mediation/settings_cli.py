"""Reading the settings for a command: a broken variable is a message naming it, not a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from pydantic import ValidationError

from mediation.settings import Settings


def settings_or_exit() -> Settings:
    """The configuration from the environment, or exit 2 naming each variable that is wrong."""
    try:
        return Settings()
    except ValidationError as error:
        for problem in error.errors():
            field = "MEDIATION_" + "_".join(str(part) for part in problem["loc"]).upper()
            typer.echo(f"error: {field}: {problem['msg']}", err=True)
        raise typer.Exit(2) from None


@contextmanager
def started_or_exit() -> Iterator[None]:
    """Around a command's start-up: a broken workflow definition or holiday calendar, a
    store the configured key cannot read, a database that cannot be opened or reached, or one
    being restored, is a message and exit 1, as `serve` gives it."""
    from sqlalchemy.exc import OperationalError

    from mediation.bootstrap import StoreKeyError  # the composition root
    from mediation.calendars import CalendarError
    from mediation.store_lock import StoreInUseError
    from mediation.workflows import DefinitionError

    try:
        yield
    except OperationalError as error:  # the driver's words name the place, never a password
        typer.echo(
            f"error: cannot open the database of MEDIATION_DATABASE_URL: {error.orig}", err=True
        )
        raise typer.Exit(1) from None
    except DefinitionError as error:
        typer.echo(f"error: broken workflow definition: {error}", err=True)
        raise typer.Exit(1) from None
    except CalendarError as error:
        typer.echo(f"error: broken holiday calendar: {error}", err=True)
        raise typer.Exit(1) from None
    except (StoreKeyError, StoreInUseError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
