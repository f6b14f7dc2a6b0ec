"""The pages in zh, bo and en: chosen by a switcher, defaulting from Accept-Language."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

import mediation.web
from mediation.bootstrap import Services
from mediation.web.i18n import LANGUAGES, Translator, load_catalogues, negotiate
from mediation.web.vocabulary import required_terms
from tests.web.web_support import post_form, register, sign_in

WEB = Path(mediation.web.__file__).parent
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@pytest.mark.parametrize(
    ("cookie", "header", "expected"),
    [
        (None, None, "zh"),
        (None, "bo-CN,bo;q=0.9,zh;q=0.8", "bo"),
        (None, "zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        (None, "en-US,en;q=0.9", "en"),
        (None, "fr-FR, en;q=0.5, bo;q=0.7", "bo"),
        (None, "de, fr", "zh"),
        (None, "en;q=0, bo;q=0.1", "bo"),
        ("en", "bo", "en"),
        ("xx", "bo", "bo"),
    ],
)
def test_the_language_is_the_chosen_one_else_the_best_accepted_else_chinese(
    cookie: str | None, header: str | None, expected: str
) -> None:
    assert negotiate(cookie, header) == expected


@pytest.mark.parametrize(
    ("header", "html_lang", "sign_in_label"),
    [("zh-CN,zh;q=0.9", "zh-Hans", "登录"), ("bo", "bo", "ནང་འཛུལ།"), ("en-GB", "en", "Sign in")],
)
def test_the_sign_in_page_speaks_the_browsers_language(
    browser: TestClient, header: str, html_lang: str, sign_in_label: str
) -> None:
    page = browser.get("/sign-in", headers={"Accept-Language": header})
    assert f'<html lang="{html_lang}">' in page.text
    assert f"<h1>{sign_in_label}</h1>" in page.text


def test_the_switcher_remembers_the_choice_and_returns_to_the_same_page(clerk: TestClient) -> None:
    case_id = register(clerk)
    here = f"/cases/{case_id}"
    response = post_form(clerk, "/language", {"language": "bo", "next": here}, here)
    assert response.status_code == 303
    assert response.headers["location"] == here
    assert "mediation_lang=bo" in response.headers["set-cookie"]
    page = clerk.get(here).text
    assert '<html lang="bo">' in page
    assert "ཐོ་འགོད་བྱས་ཟིན།" in page  # status: registered
    assert "ལོ་རྒྱུས་ཕྱིར་བལྟ།" in page  # time travel
    post_form(clerk, "/language", {"language": "zh", "next": here}, here)
    page = clerk.get(here).text
    assert "已登记" in page
    assert "受理" in page  # the accept action


def test_an_unknown_language_changes_nothing(clerk: TestClient) -> None:
    response = post_form(clerk, "/language", {"language": "xx", "next": "/queue"}, "/queue")
    assert (
        "set-cookie" not in response.headers
        or "mediation_lang" not in response.headers["set-cookie"]
    )


def test_dates_are_written_the_way_each_language_writes_them(web_services: Services) -> None:
    catalogues = load_catalogues()
    zone = web_services.cases.calendar.zone
    moment = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)  # 09:30 in Lhasa
    shown = {lang: Translator(lang, catalogues[lang], zone).moment(moment) for lang in LANGUAGES}
    assert shown["zh"] == "2026年3月2日 09:30:00"
    assert shown["en"].startswith("Mar 2, 2026, 9:30:00")  # CLDR puts a narrow space before AM
    assert "ཟླ་" in shown["bo"]
    assert "09:30" in shown["bo"]


def test_vocabulary_is_translated_and_falls_back_to_readable_english(
    web_services: Services,
) -> None:
    catalogues = load_catalogues()
    zone = web_services.cases.calendar.zone
    zh = Translator("zh", catalogues["zh"], zone)
    en = Translator("en", catalogues["en"], zone)
    assert zh.term("status", "awaiting_routing") == "待分流"
    assert en.term("status", "awaiting_routing") == "Awaiting routing"
    assert en.term("status", "not_a_status") == "not a status"


def _extracted() -> set[str | tuple[str, ...]]:
    method_map = [("**/templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")]
    found = extract_from_dir(str(WEB), method_map=method_map, keywords=dict(DEFAULT_KEYWORDS))
    return {
        message if isinstance(message, str) else tuple(message) for *_, message, _c, _x in found
    }


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_and_every_word_of_the_vocabulary_is_translated(
    language: str, web_services: Services
) -> None:
    with (WEB / "locales" / language / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale=language)
    translated = {
        (message.context, message.id if isinstance(message.id, str) else tuple(message.id))
        for message in catalog
        if message.id
        and all(message.string if isinstance(message.string, tuple) else [message.string])
    }
    missing_messages = {m for m in _extracted() if (None, m) not in translated}
    missing_terms = required_terms(web_services.workflows) - translated
    assert not missing_messages, f"{language}: not translated: {sorted(map(str, missing_messages))}"
    assert not missing_terms, f"{language}: vocabulary not translated: {sorted(missing_terms)}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_translation_keeps_the_placeholders_of_its_message(language: str) -> None:
    with (WEB / "locales" / language / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale=language)
    for message in catalog:
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = (
            [message.string] if isinstance(message.string, str) else list(message.string or ())
        )
        wanted = set(PLACEHOLDER.findall(ids[0])) | set(PLACEHOLDER.findall(ids[-1]))
        for string in strings:
            assert set(PLACEHOLDER.findall(string)) == wanted, (language, message.id, string)


def test_tibetan_and_chinese_names_come_back_exactly_as_typed(clerk: TestClient) -> None:
    case_id = register(clerk, **{"parties-0-name": "བསྟན་འཛིན་ནོར་བུ", "parties-1-name": "王秀英"})
    page = clerk.get(f"/cases/{case_id}").text
    assert "བསྟན་འཛིན་ནོར་བུ" in page
    assert "王秀英" in page


def test_a_signed_in_page_follows_accept_language_until_the_switcher_is_used(
    web_app: object, browser: TestClient
) -> None:
    sign_in(browser, "mia")
    page = browser.get("/queue", headers={"Accept-Language": "zh-CN"}).text
    assert "待办列表" in page
