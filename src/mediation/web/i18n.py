"""Languages of the pages: message catalogues read from .po files at start, and the user's choice.

The catalogues ship as .po text only and are compiled in memory when the app starts, so a fresh
`pip install -e .` needs no separate compile step and a translator edits just one file.
"""

from __future__ import annotations

import gettext
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from importlib import resources
from io import BytesIO

from babel.dates import format_date, format_datetime, format_skeleton
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LANGUAGES = ("zh", "bo", "en")
DEFAULT_LANGUAGE = "zh"
# Each language named in itself, for the switcher.
NATIVE_NAMES = {"zh": "中文", "bo": "བོད་ཡིག", "en": "English"}
# The value of <html lang>: Chinese here is written in simplified characters.
HTML_LANG = {"zh": "zh-Hans", "bo": "bo", "en": "en"}
DOMAIN = "messages"


def N_(message: str) -> str:  # noqa: N802 (the name gettext tools look for)
    """Mark a message for the catalogues; it is translated where it is shown."""
    return message


def load_catalogues() -> dict[str, Translations]:
    """Every language's catalogue, compiled from its .po file."""
    root = resources.files("mediation.web") / "locales"
    catalogues = {}
    for language in LANGUAGES:
        source = root / language / "LC_MESSAGES" / f"{DOMAIN}.po"
        with source.open("rb") as po:
            catalog = read_po(po, locale=language, domain=DOMAIN)
        compiled = BytesIO()
        write_mo(compiled, catalog)
        compiled.seek(0)
        catalogues[language] = Translations(fp=compiled, domain=DOMAIN)
    return catalogues


def negotiate(chosen: str | None, accept_language: str | None) -> str:
    """The language a user chose (cookie), else the best of Accept-Language, else Chinese."""
    if chosen in LANGUAGES:
        return chosen
    for tag in _ranked_tags(accept_language or ""):
        primary = tag.split("-")[0].lower()
        if primary in LANGUAGES:
            return primary
    return DEFAULT_LANGUAGE


def _ranked_tags(header: str) -> list[str]:
    ranked: list[tuple[float, int, str]] = []
    for index, item in enumerate(header.split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, index, tag))
    return [tag for _q, _i, tag in sorted(ranked)]


@dataclass(frozen=True)
class Translator:
    """Messages, vocabulary and dates in one language; dates shown in the centers' time zone."""

    language: str
    translations: gettext.NullTranslations
    zone: tzinfo

    @property
    def html_lang(self) -> str:
        return HTML_LANG[self.language]

    def gettext(self, message: str, **values: object) -> str:
        text = self.translations.gettext(message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values: object) -> str:
        text = self.translations.ngettext(singular, plural, n)
        return text % ({"num": n} | values)

    def pgettext(self, context: str, message: str) -> str:
        return self.translations.pgettext(context, message)

    def term(self, kind: str, value: object) -> str:
        """A word of the engine's vocabulary (a status, action, role...) in this language."""
        if value is None or value == "":
            return "—"
        text = str(value)
        translated = self.translations.pgettext(kind, text)
        return translated if translated != text else text.replace("_", " ")

    def moment(self, moment: datetime | None, style: str = "medium") -> str:
        """A moment where the centers are; one the local zone cannot hold (a year-1 or
        year-9999 edge, recorded before such moments were refused) as it was stored."""
        if moment is None:
            return "—"
        try:
            return format_datetime(moment, style, tzinfo=self.zone, locale=self.language)
        except OverflowError:
            return moment.isoformat()

    def day(self, day: date | datetime | None, style: str = "medium") -> str:
        if day is None:
            return "—"
        if isinstance(day, datetime):
            moment = day
            try:
                day = moment.astimezone(self.zone).date()
            except OverflowError:
                return moment.date().isoformat()
        return format_date(day, style, locale=self.language)

    def period(self, start: date | None, period: str) -> str:
        """A statistics period by its first day: a month as "2026年3月", a week as its first day."""
        if start is None:
            return self.gettext("whole range")
        if period == "month":
            return format_skeleton("yMMM", start, locale=self.language)
        if period == "week":
            return self.gettext("week of %(day)s", day=self.day(start))
        return self.day(start)

    def days_left(self, due: datetime, now: datetime) -> int:
        """Whole days from today to the due day, both where the centers are (negative: overdue)."""
        return (due.astimezone(self.zone).date() - now.astimezone(self.zone).date()).days


def translator(
    catalogues: Mapping[str, gettext.NullTranslations], language: str, zone: tzinfo
) -> Translator:
    return Translator(language, catalogues[language], zone)
