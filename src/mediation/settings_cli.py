"""Reading the settings for a command: a broken variable is a message naming it, not a traceback."""

from __future__ import annotations

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
