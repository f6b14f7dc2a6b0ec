"""Jinja2 templates whose `_()`, `ngettext()` and `pgettext()` speak the request's language."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from mediation.web.i18n import Translator

# Set for exactly the duration of one render, in the thread doing it.
_current: ContextVar[Translator] = ContextVar("translator")


def _gettext(message: str, **values: object) -> str:
    return _current.get().gettext(message, **values)


def _ngettext(singular: str, plural: str, n: int, **values: object) -> str:
    return _current.get().ngettext(singular, plural, n, **values)


def _pgettext(context: str, message: str) -> str:
    return _current.get().pgettext(context, message)


class Templates:
    """The package's templates, autoescaped; undefined names fail loudly instead of showing blank."""

    def __init__(self) -> None:
        self.env = Environment(
            loader=PackageLoader("mediation.web", "templates"),
            autoescape=select_autoescape(default=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals.update(
            _=_gettext, gettext=_gettext, ngettext=_ngettext, pgettext=_pgettext
        )

    def render(self, translator: Translator, name: str, context: Mapping[str, Any]) -> str:
        token = _current.set(translator)
        try:
            return self.env.get_template(name).render({"t": translator, **context})
        finally:
            _current.reset(token)
