"""End to end in headless Chromium: a clerk, a mediator and a supervisor work one case.

The pages are served by a real uvicorn server on a free loopback port; Playwright drives
Debian's Chromium (/usr/bin/chromium). Screenshots go to screenshots/ for a person to look at.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import uvicorn
from fastapi import FastAPI

from tests.support import FakeClock
from tests.web.web_support import CHINESE_NAME, PASSWORD, TIBETAN_NAME

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
TABLET: ViewportSize = {"width": 820, "height": 1180}  # a 10-inch tablet held upright
TIMEOUT_MS = 10_000
ID_NUMBER = "54010219900101123X"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Headless Chromium; without it the e2e tests fail in CI and are skipped elsewhere."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install chromium"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {message}: the e2e tests must run in CI")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def live_server(web_app: FastAPI) -> Iterator[str]:
    """The pages served by uvicorn in a thread, on a free port of 127.0.0.1."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(web_app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        listener.close()


def new_page(browser: Browser, base: str, locale: str = "en-US") -> Page:
    context = browser.new_context(base_url=base, locale=locale, viewport=DESKTOP)
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


def sign_in(page: Page, username: str) -> None:
    """Sign in from the keyboard alone: the username field has the focus, Tab, Enter."""
    from playwright.sync_api import expect

    page.goto("/queue")
    page.wait_for_url(re.compile(r"/sign-in\?next="))
    # Chromium gives the autofocus field the focus at a rendering step that may come after
    # the load event: keys typed before it would be lost, and the sign-in refused.
    expect(page.locator("#username")).to_be_focused()
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/queue$"))


def take(page: Page, action: str, fill: dict[str, str] | None = None) -> None:
    """Open an action's form on the case page, fill it, send it, wait for the page again."""
    details = page.locator(f"details#action-{action}")
    details.locator("summary").click()
    for field, value in (fill or {}).items():
        details.locator(f"#{action}-{field}").fill(value)
    with page.expect_navigation():
        details.locator("button.primary").click()


def status(page: Page) -> str:
    return page.locator("#case-status").inner_text()


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_a_case_from_the_window_to_the_agreement_and_back_in_time(
    chromium: Browser, live_server: str, clock: FakeClock
) -> None:
    case_url = clerk_registers_and_routes(chromium, live_server, clock)
    mediator_reaches_agreement(chromium, live_server, clock, case_url)
    supervisor_travels_back_and_switches_language(chromium, live_server, case_url)


def clerk_registers_and_routes(browser: Browser, base: str, clock: FakeClock) -> str:
    from playwright.sync_api import expect

    page = new_page(browser, base)
    sign_in(page, "clerk")
    page.get_by_role("link", name="New case").click()
    page.get_by_label("Dispute type").select_option("neighbour")
    page.get_by_label("Place").fill("八廓街 བར་སྐོར།")
    # Sent without a summary first: the error appears beside the field and takes the focus.
    page.locator("button.primary", has_text="Register").click()
    assert page.locator("#summary-error").inner_text() == "is required"
    assert page.evaluate("document.activeElement.id") == "error-summary"
    shot(page, "intake-errors")
    page.get_by_label("Summary").fill("邻里噪音纠纷 ཁྱིམ་མཚེས་ཀྱི་རྩོད་གཞི།")
    page.locator("#parties-0-name").fill(TIBETAN_NAME)
    page.locator("#parties-0-id_number").fill(ID_NUMBER)
    page.locator("#parties-1-name").fill(CHINESE_NAME)
    page.get_by_role("button", name="Add a party").click()
    assert page.locator("[data-party-row]").count() == 3
    assert page.evaluate("document.activeElement.id") == "parties-2-name"
    page.locator("[data-party-row]").nth(2).get_by_role("button", name="Remove this party").click()
    assert page.locator("[data-party-row]").count() == 2
    page.locator("button.primary", has_text="Register").click()
    page.wait_for_url(re.compile(r"/cases/[0-9a-f-]{36}$"))
    assert status(page) == "Registered"
    assert page.locator(".party-name").all_inner_texts() == [TIBETAN_NAME, CHINESE_NAME]
    clock.advance(minutes=20)
    take(page, "accept")
    clock.advance(minutes=5)
    details = page.locator("details#action-route")
    details.locator("summary").click()
    details.locator("#route-mediator").select_option("mia")
    with page.expect_navigation():
        details.locator("button.primary").click()
    assert status(page) == "Mediating"
    url = page.url
    # The applicant calls the hotline: their case is found by the ID number they give.
    page.get_by_role("link", name="Find cases").click()
    expect(page.locator("#id_number")).to_be_focused()
    page.keyboard.type(ID_NUMBER.lower())
    page.keyboard.press("Enter")
    page.locator("table.lookup-results tbody a").click()
    page.wait_for_url(url)
    page.context.close()
    return url


def mediator_reaches_agreement(browser: Browser, base: str, clock: FakeClock, url: str) -> None:
    page = new_page(browser, base)
    sign_in(page, "mia")
    page.goto("/queue?mine=yes")
    assert page.locator("table.queue tbody tr").count() == 1
    shot(page, "queue")
    page.locator("table.queue tbody a").first.click()
    page.wait_for_url(url)
    for party in (TIBETAN_NAME, CHINESE_NAME):
        clock.advance(hours=1)
        details = page.locator("details#action-record_consent")
        details.locator("summary").click()
        details.locator("#record_consent-party").select_option(label=party)
        details.get_by_label("yes").check()
        with page.expect_navigation():
            details.locator("button.primary").click()
    clock.advance(days=2)
    take(page, "record_session", {"summary": "双方到场 ཕྱོགས་གཉིས་ཡོང་།"})
    clock.advance(days=1)
    details = page.locator("details#action-reach_agreement")
    details.locator("summary").click()
    details.locator("#reach_agreement-terms").fill("每晚十点后保持安静 ནུབ་མོ་ཆུ་ཚོད་10རྗེས་ཁ་རོག་སྡོད།")
    for party in (TIBETAN_NAME, CHINESE_NAME):
        details.get_by_label(party).check()
    with page.expect_navigation():
        details.locator("button.primary").click()
    assert status(page) == "Agreement in force"
    page.set_viewport_size(TABLET)
    shot(page, "case-tablet")
    page.context.close()


def supervisor_travels_back_and_switches_language(browser: Browser, base: str, url: str) -> None:
    page = new_page(browser, base)
    sign_in(page, "sup")
    page.goto(url)
    assert status(page) == "Agreement in force"
    assert page.locator(".timeline li").count() == 7
    page.locator("#travel-earlier").click()
    page.wait_for_url(re.compile(r"as_of_version=6$"))
    page.locator("#travel-earlier").click()
    page.wait_for_url(re.compile(r"as_of_version=5$"))
    assert status(page) == "Mediating"
    assert "version 5 of 7" in page.locator("#travel-state").inner_text()
    assert page.locator("section.actions").count() == 0
    # The slider from the keyboard: one step back shows version 4.
    page.locator("#as-of-version").focus()
    with page.expect_navigation():
        page.keyboard.press("ArrowLeft")
    assert page.url.endswith("as_of_version=4")
    page.locator("#travel-later").click()
    page.wait_for_url(re.compile(r"as_of_version=5$"))

    page.get_by_role("button", name="བོད་ཡིག").click()
    page.wait_for_url(re.compile(r"as_of_version=5$"))
    assert page.locator("html").get_attribute("lang") == "bo"
    assert status(page) == "བར་འདུམ་བྱེད་བཞིན།"
    assert page.locator("#travel-title").inner_text() == "ལོ་རྒྱུས་ཕྱིར་བལྟ།"
    shot(page, "case-bo")

    page.get_by_role("button", name="中文").click()
    page.wait_for_url(re.compile(r"as_of_version=5$"))
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    assert status(page) == "调解中"
    assert page.locator("#travel-title").inner_text() == "历史回溯"
    shot(page, "case-zh")

    page.get_by_role("link", name="统计").click()
    page.wait_for_url(re.compile(r"/stats$"))
    assert page.locator(".kpi-label", has_text="达成协议").count() == 1
    shot(page, "stats")
    page.get_by_role("link", name="待办列表").click()
    assert page.locator(".queue-counts strong").inner_text() == "共1件未结案件"
    shot(page, "queue-zh")

    # The audit trail lists the latest first; the form's order lists from the registration.
    page.goto(f"{base}/audit")
    rows = page.locator("table.audit tbody tr")
    newest = rows.all_inner_texts()
    page.locator("#order").select_option("oldest")
    page.locator("form.filters button[type=submit]").click()
    page.wait_for_url(re.compile(r"order=oldest"))
    oldest = rows.all_inner_texts()
    assert len(newest) == 7
    assert oldest == newest[::-1]
    assert page.locator("#order").input_value() == "oldest"
    shot(page, "audit-zh")
    page.context.close()
