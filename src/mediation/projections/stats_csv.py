"""The statistics as CSV: one line per center and period, then one per center for the range.

Spreadsheets run a cell that begins with `=`, `+`, `-` or `@` as a formula, and dispute types
are typed in at the window: every text cell that begins so is written with a `'` before it
(OWASP's advice on CSV injection), which spreadsheets show as text and do not keep.
"""

from __future__ import annotations

import csv
import io
from datetime import date

from mediation.projections.stats_query import COUNTED, OUTCOMES, StatsReport, StatsRow

TOTAL = "total"


def stats_csv(report: StatsReport) -> str:
    breakdowns = report.query.breakdowns
    header = ["center", "period", *breakdowns, *COUNTED, "success_rate"]
    header += [f"closed_{outcome}" for outcome in OUTCOMES]
    header += ["median_days_to_close", "p90_days_to_close", "overdue_now"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in [*report.rows, *report.totals]:
        writer.writerow(_line(row, breakdowns))
    return out.getvalue()


def _line(row: StatsRow, breakdowns: tuple[str, ...]) -> list[str]:
    period = row.period.isoformat() if isinstance(row.period, date) else TOTAL
    line = [text_cell(row.center), period, *(text_cell(getattr(row, b)) for b in breakdowns)]
    line += [str(row.counts[kind]) for kind in COUNTED]
    line.append(_number(row.success_rate))
    line += [str(row.closed.get(outcome, 0)) for outcome in OUTCOMES]
    line += [_number(row.median_days_to_close), _number(row.p90_days_to_close)]
    line.append("" if row.overdue_now is None else str(row.overdue_now))
    return line


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def text_cell(value: object) -> str:
    """A text cell no spreadsheet takes for a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"
