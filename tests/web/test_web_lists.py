"""Queue, audit trail, statistics and notifications: read from the views of the case log."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import date

import pytest
from fastapi.testclient import TestClient

from mediation.projections import standard
from mediation.web import routes_lists, routes_reports
from tests.support import FakeClock
from tests.web.web_support import act, register, signed_in


def rows(page: str) -> list[str]:
    body = page[page.index("<tbody>") : page.index("</tbody>")]
    return re.findall(r"<tr[^>]*>.*?</tr>", body, re.S)


def test_the_queue_lists_open_cases_soonest_due_first_and_marks_the_overdue(
    clerk: TestClient, clock: FakeClock
) -> None:
    late = register(clerk, summary="先登记的纠纷")
    act(clerk, late, "accept")  # its routing deadline is 7 days away
    clock.advance(hours=1)
    register(clerk, summary="后登记的纠纷")  # decision due in 1 day
    clock.advance(days=2)
    page = clerk.get("/queue").text
    first, second = rows(page)
    assert "后登记的纠纷" in first
    assert 'class="overdue' in first
    assert "overdue by" in first
    assert "先登记的纠纷" in second
    assert "overdue" not in second


def test_the_queue_counts_the_open_and_overdue_cases_in_all_and_by_phase(
    clerk: TestClient, clock: FakeClock
) -> None:
    routed = register(clerk, summary="已受理")
    act(clerk, routed, "accept")  # routing: due in 7 days
    register(clerk, summary="新登记一")  # intake: a decision due in 1 day
    register(clerk, summary="新登记二")
    clock.advance(days=2)

    page = clerk.get("/queue?status=registered").text  # the counts are the queue's, unfiltered
    start = page.index('class="queue-counts"')
    counts = page[start : page.index("</div>", start)]

    assert "3 open cases in all" in counts
    assert '<span class="badge overdue">2 overdue</span>' in counts
    intake = re.search(r'<a href="/queue\?phase=intake">[^<]* (\d+)</a>(.*?)</li>', counts, re.S)
    routing = re.search(r'<a href="/queue\?phase=routing">[^<]* (\d+)</a>(.*?)</li>', counts, re.S)
    assert intake is not None, counts
    assert routing is not None, counts
    assert (intake.group(1), "2 overdue" in intake.group(2)) == ("2", True)
    assert (routing.group(1), "overdue" in routing.group(2)) == ("1", False)
    assert clerk.get("/queue?phase=intake").text.count("新登记") == 2


def test_the_queue_filters_by_status_and_mine(web_app: object, clerk: TestClient) -> None:
    routed = register(clerk, summary="已分派")
    act(clerk, routed, "accept")
    act(clerk, routed, "route", mediator="mia")
    register(clerk, summary="新登记")
    page = clerk.get("/queue?status=registered").text
    assert "新登记" in page
    assert "已分派" not in page
    with signed_in(clerk.app, "mia") as mia:
        mine = mia.get("/queue?mine=yes").text
    assert "已分派" in mine
    assert "新登记" not in mine
    assert 'name="mine" value="yes" checked' in mine


def test_an_escalated_case_is_highlighted_in_the_supervisors_queue(
    web_app: object, clerk: TestClient
) -> None:
    case_id = register(clerk, summary="需要督办")
    with signed_in(clerk.app, "sup") as sup:
        assert act(sup, case_id, "escalate", reason="邻里冲突升级", levels="1").status_code == 303
        page = sup.get("/queue?escalated=yes").text
        (row,) = rows(page)
        notifications = sup.get("/notifications").text
    assert "需要督办" in row
    assert "escalated" in row.split(">")[0]
    assert "level 1" in row
    assert "Escalated" in notifications
    assert "邻里冲突升级" in notifications
    assert "1 unread" in notifications


def test_the_audit_trail_is_for_supervisors_and_filters_by_who_and_what(
    web_app: object, clerk: TestClient
) -> None:
    case_id = register(clerk)
    act(clerk, case_id, "accept")
    assert clerk.get("/audit").status_code == 403
    with signed_in(clerk.app, "sup") as sup:
        everything = sup.get("/audit").text
        accepted = sup.get("/audit?event=Accepted&who=clerk").text
        bad = sup.get("/audit?case=not-a-case")
        below = sup.get("/audit?center=cg").text  # the case is at cg-a, below cg
        nothing = sup.get("/audit?event=Closed").text
        outside = sup.get("/audit?center=dz")
    assert len(rows(everything)) == 2
    assert len(rows(below)) == 2  # a center and those below it, as the API's `center=`
    assert "Nothing matches." in nothing
    assert outside.status_code == 422
    (row,) = rows(accepted)
    assert "Registered → Awaiting routing" in row
    assert bad.status_code == 422
    assert "is not a case number" in bad.text


def test_the_audit_page_links_a_spreadsheet_of_every_event_its_filters_match(
    web_app: object, clerk: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = register(clerk, summary="第一件")
    act(clerk, first, "accept")
    register(clerk, summary="第二件")
    assert clerk.get("/audit/export").status_code == 403
    with signed_in(clerk.app, "sup") as sup:
        page = sup.get("/audit?event=Registered&order=oldest").text
        link = re.search(r'<a href="(/audit/export\?[^"]*)" download>', page)
        assert link is not None, page
        exported = sup.get(html.unescape(link.group(1)))
        monkeypatch.setattr(standard, "EXPORT_MOST", 2)
        too_many = sup.get("/audit/export")  # three events in all

    assert exported.status_code == 200
    assert exported.headers["content-type"] == "text/csv; charset=utf-8"
    assert exported.content.startswith(b"\xef\xbb\xbf")  # for Excel: the file is UTF-8
    lines = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert [line["type"] for line in lines] == ["Registered", "Registered"]
    assert ["第一件" in line["data"] for line in lines] == [True, False]
    assert too_many.status_code == 422
    assert 'id="since-error"' in too_many.text
    assert "more than 2 events match: choose a shorter time range" in too_many.text


def test_the_audit_page_lists_the_newest_first_unless_asked_for_the_oldest(
    web_app: object, clerk: TestClient
) -> None:
    act(clerk, register(clerk), "accept")
    with signed_in(clerk.app, "sup") as sup:
        newest = sup.get("/audit").text
        oldest = sup.get("/audit?order=oldest").text
        sideways = sup.get("/audit?order=sideways")

    assert ["Accepted" in row for row in rows(newest)] == [True, False]
    assert ["Accepted" in row for row in rows(oldest)] == [False, True]
    assert '<option value="newest" selected>' in newest
    assert '<option value="oldest" selected>' in oldest
    assert sideways.status_code == 422
    assert 'id="order-error"' in sideways.text
    assert "choose one of the options" in sideways.text


def test_a_list_past_its_first_page_links_back_to_it_keeping_the_filters(
    web_app: object, clerk: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes_lists, "PAGE", 1)
    act(clerk, register(clerk), "accept")  # two events
    with signed_in(clerk.app, "sup") as sup:
        first = sup.get("/audit?order=oldest").text
        link = re.search(r'href="([^"]+)">Next page<', first)
        assert link is not None
        second = sup.get(html.unescape(link[1])).text
        back = re.search(r'href="([^"]+)">First page<', second)
        assert back is not None
        again = sup.get(html.unescape(back[1])).text

    assert "First page" not in first
    assert (len(rows(first)), len(rows(second))) == (1, 1)
    assert rows(first) != rows(second)
    assert "Next page" not in second
    assert html.unescape(back[1]) == "http://testserver/audit?order=oldest"
    assert rows(again) == rows(first)


def test_notifications_show_the_newest_escalations_and_instructions_when_there_are_more(
    web_app: object, clerk: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes_reports, "NOTIFICATIONS_SHOWN", 3)
    case_id = register(clerk, summary="多次督办")
    with signed_in(clerk.app, "sup") as sup:
        for n in ("一", "二"):
            escalated = act(sup, case_id, "escalate", reason=f"第{n}次升级", levels="1")
            instructed = act(
                sup, case_id, "supervise", instruction=f"第{n}次督办", due="2026-12-31"
            )
            assert (escalated.status_code, instructed.status_code) == (303, 303)
        page = sup.get("/notifications").text

    shown = re.findall(r"第.次(?:升级|督办)", page)
    assert shown == ["第二次督办", "第二次升级", "第一次督办"]


def test_statistics_draw_bars_for_the_figures(clerk: TestClient) -> None:
    for summary in ("一", "二", "三"):
        case_id = register(clerk, summary=summary)
    act(clerk, case_id, "accept")
    page = clerk.get("/stats?period=month").text
    assert '<span class="kpi-value">3</span>' in page
    assert page.count('<svg class="bar"') >= 9
    assert 'width="100.00"' in page  # the longest bar of a chart fills it
    assert "Registered and closed" in page


def test_the_statistics_page_links_its_figures_as_a_spreadsheet(clerk: TestClient) -> None:
    for summary in ("一", "二"):
        register(clerk, summary=summary)
    page = clerk.get("/stats?period=week").text
    link = re.search(r'<a href="(/stats/export\?[^"]*)" download>', page)
    assert link is not None, page

    exported = clerk.get(html.unescape(link.group(1)))
    backwards = clerk.get("/stats/export?start=2026-03-01&end=2026-02-01")

    assert exported.status_code == 200
    assert exported.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="statistics.csv"' in exported.headers["content-disposition"]
    assert exported.content.startswith(b"\xef\xbb\xbf")
    lines = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    weeks = [line for line in lines if line["period"] != "total"]
    (total,) = [line for line in lines if line["period"] == "total"]
    assert sum(int(line["registered"]) for line in weeks) == int(total["registered"]) == 2
    assert all(date.fromisoformat(line["period"]).weekday() == 0 for line in weeks)  # Mondays
    assert backwards.status_code == 422
    assert 'id="end-error"' in backwards.text


def test_statistics_refuse_a_range_that_ends_before_it_starts(clerk: TestClient) -> None:
    response = clerk.get("/stats?start=2026-03-01&end=2026-02-01")
    assert response.status_code == 422
    assert 'id="end-error"' in response.text


def test_an_escalation_read_in_the_browser_stays_read_for_that_supervisor_everywhere(
    web_app: object, clerk: TestClient
) -> None:
    case_id = register(clerk, summary="已读的升级")
    with signed_in(clerk.app, "sup") as sup:
        act(sup, case_id, "escalate", reason="复核", levels="1")
        assert "1 unread" in sup.get("/notifications").text
        page = sup.get("/notifications").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        up_to = re.search(r'name="up_to" value="(\d+)"', page)
        assert token is not None
        assert up_to is not None
        sup.post("/notifications/read", data={"csrf_token": token[1], "up_to": up_to[1]})
    with signed_in(clerk.app, "sup") as again:  # a new session
        assert "0 unread" in again.get("/notifications").text


def test_audit_days_at_the_calendars_ends_bound_nothing_away(
    web_app: object, clerk: TestClient
) -> None:
    act(clerk, register(clerk), "accept")
    with signed_in(clerk.app, "sup") as sup:
        pages = [sup.get(f"/audit?{bound}") for bound in ("since=0001-01-01", "until=9999-12-31")]
    assert [page.status_code for page in pages] == [200, 200]
    assert [len(rows(page.text)) for page in pages] == [2, 2]


def test_a_filter_value_no_form_offers_is_refused_not_ignored(clerk: TestClient) -> None:
    register(clerk)
    for url in (
        "/queue?risk=bogus",
        "/queue?status=bogus",
        "/queue?cursor=zzz",
        "/stats?period=year",
    ):
        response = clerk.get(url)
        assert response.status_code == 422, url
    assert clerk.get("/queue?risk=low").status_code == 200


def test_a_supervisor_choosing_a_center_sees_the_centers_below_it_too(
    web_app: object, clerk: TestClient
) -> None:
    for summary in ("一", "二"):
        register(clerk, summary=summary)  # at cg-a, below cg
    with signed_in(clerk.app, "sup") as sup:
        chosen = sup.get("/stats?period=month&center=cg").text
    assert '<span class="kpi-value">2</span>' in chosen
