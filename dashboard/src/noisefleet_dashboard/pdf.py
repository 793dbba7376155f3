"""One-page PDFs of a complaint check and a site's compliance report (fpdf2, pure Python).

The PDF's built-in Helvetica covers Latin-1 only, so text passes through ``latin1`` (en dash →
"-", "≤" → "<=", …) instead of embedding a font file: the documents stay small and need no font
on the machine. The chart is drawn with PDF lines (no image library, no matplotlib): LAeq per
bucket, LAFmax as a thin line, the limit dashed. Tables are cut to fit one page, with a line
saying how many rows were left out (the CSV holds them all).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from fpdf import FPDF

_REPLACEMENTS = {
    " · ": "; ",
    "–": "-",
    "—": "-",
    "≤": "<=",
    "≥": ">=",
    "·": ".",
    "…": "...",
    "✅": "",
    "❌": "",
    "⚠️": "",
    "’": "'",
}


def latin1(text: str) -> str:
    """Text the core fonts can show (anything else becomes "?")."""
    for old, new in _REPLACEMENTS.items():
        text = text.replace(old, new)
    return text.encode("latin-1", "replace").decode("latin-1")


@dataclass(frozen=True)
class ChartSeries:
    """What the PDF chart draws: bucket starts and levels (None: a gap)."""

    times: Sequence[datetime]
    laeq_db: Sequence[float | None]
    lafmax_db: Sequence[float | None]
    limit_db: float | None
    caption: str
    timezone: str = "UTC"
    """Of the time axis' labels."""


class _Page(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.set_auto_page_break(auto=False)
        self.set_margins(15, 15, 15)
        self.set_title(latin1(title))
        self.set_creator("noisefleet")
        self.add_page()
        self.set_font("Helvetica", "B", 15)
        self.cell(0, 9, latin1(title), new_x="LMARGIN", new_y="NEXT")

    def line_of_text(self, text: str, size: float = 10, bold: bool = False) -> None:
        self.set_font("Helvetica", "B" if bold else "", size)
        self.multi_cell(0, size * 0.5, latin1(text), new_x="LMARGIN", new_y="NEXT")

    def heading(self, text: str) -> None:
        self.ln(2)
        self.line_of_text(text, 11, bold=True)

    def rows_table(self, rows: Sequence[dict[str, str]], bottom: float, size: float = 7.5) -> None:
        """Rows under a header, as many as fit above ``bottom`` (mm from the top)."""
        if not rows:
            self.line_of_text("None.", 9)
            return
        columns = list(rows[0])
        width = (self.w - self.l_margin - self.r_margin) / len(columns)
        height = size * 0.55
        self.set_font("Helvetica", "B", size)
        for column in columns:
            self.cell(width, height, self._fit(column, width), border="B")
        self.ln(height)
        self.set_font("Helvetica", "", size)
        shown = 0
        for row in rows:
            if self.get_y() + 2 * height > bottom:
                break
            for column in columns:
                self.cell(width, height, self._fit(str(row[column]), width))
            self.ln(height)
            shown += 1
        if shown < len(rows):
            self.line_of_text(f"... and {len(rows) - shown} more (all of them in the CSV).", 8)

    def _fit(self, text: str, width: float) -> str:
        """The text, shortened with "..." to fit a cell of ``width`` mm in the current font."""
        text = latin1(text)
        if self.get_string_width(text) <= width - 1:
            return text
        while text and self.get_string_width(text + "...") > width - 1:
            text = text[:-1]
        return text + "..."

    def chart(self, series: ChartSeries, height: float = 60) -> None:
        values: list[float] = [v for v in (*series.laeq_db, *series.lafmax_db) if v is not None]
        if series.limit_db is not None:
            values.append(series.limit_db)
        if not values or len(series.times) < 2:
            self.line_of_text("No levels to chart.", 9)
            return
        low, high = min(values) - 3, max(values) + 3
        left, top = self.l_margin + 10, self.get_y() + 2
        width = self.w - self.r_margin - left
        t0, t1 = series.times[0].timestamp(), series.times[-1].timestamp()

        def xy(t: datetime, v: float) -> tuple[float, float]:
            x = left + width * (t.timestamp() - t0) / max(t1 - t0, 1)
            return x, top + height * (high - v) / (high - low)

        self.set_draw_color(160, 160, 160)
        self.set_line_width(0.2)
        self.rect(left, top, width, height)
        self.set_font("Helvetica", "", 7)
        for tick in (low, (low + high) / 2, high):
            self.text(self.l_margin, xy(series.times[0], tick)[1] + 1, f"{tick:.0f}")
        for values_db, colour, line in (
            (series.lafmax_db, (230, 150, 60), 0.2),
            (series.laeq_db, (30, 90, 180), 0.5),
        ):
            self.set_draw_color(*colour)
            self.set_line_width(line)
            previous: tuple[float, float] | None = None
            for t, value in zip(series.times, values_db, strict=True):
                point = None if value is None else xy(t, value)
                if previous is not None and point is not None:
                    self.line(*previous, *point)
                previous = point
        if series.limit_db is not None:
            self.set_draw_color(200, 30, 30)
            self.set_dash_pattern(dash=2, gap=1.5)
            y = xy(series.times[0], series.limit_db)[1]
            self.line(left, y, left + width, y)
            self.set_dash_pattern()
        self.set_draw_color(0, 0, 0)
        zone = ZoneInfo(series.timezone)
        for t in (series.times[0], series.times[len(series.times) // 2], series.times[-1]):
            label = f"{t.astimezone(zone):%H:%M}"
            x = xy(t, low)[0] - self.get_string_width(label) / 2
            self.text(x, top + height + 3, label)
        self.set_y(top + height + 4)
        self.line_of_text(series.caption, 8)


def complaint_pdf(
    title: str,
    verdict_text: str,
    details: Sequence[str],
    chart: ChartSeries,
    events: Sequence[dict[str, str]],
    alerts: Sequence[dict[str, str]],
) -> bytes:
    """The one-page complaint check: header lines, the verdict, a chart, events and alerts."""
    page = _Page(title)
    for line in details:
        page.line_of_text(line, 9)
    page.ln(1)
    page.line_of_text(verdict_text, 12, bold=True)
    page.heading("Levels")
    page.chart(chart)
    page.heading(f"Events in the window ({len(events)})")
    page.rows_table(events, bottom=225)
    page.heading(f"Alerts in the window ({len(alerts)})")
    page.rows_table(alerts, bottom=282)
    return bytes(page.output())


def report_pdf(
    title: str,
    details: Sequence[str],
    days: Sequence[dict[str, str]],
    alerts: Sequence[dict[str, str]],
    calibrations: Sequence[dict[str, str]],
) -> bytes:
    """The site's compliance report on one page: per-day indicators, alerts, calibration."""
    page = _Page(title)
    for line in details:
        page.line_of_text(line, 9)
    page.heading("Calibration")
    page.rows_table(calibrations, bottom=80)
    page.heading("Per day (Lden days 07:00-07:00 local; levels in dB(A))")
    page.rows_table(days, bottom=215)
    page.heading(f"Exceedances: alerts in the period ({len(alerts)})")
    page.rows_table(alerts, bottom=282)
    return bytes(page.output())
