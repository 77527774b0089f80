"""Render a :class:`~cloudmc_frames.reports.report.Report` as text, markdown, JSON or HTML.

Tables go through tabulate (text, markdown) or ``DataFrame.to_html`` (escaped); missing values
print as blanks, never ``nan``/``<NA>``; floats show one decimal. An incomplete report always
carries the line ``incomplete: N scopes failed``.

Example::

    >>> print(render.text(report))                        # doctest: +SKIP
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd
from tabulate import tabulate

from .._version import __version__
from ..frames import none_for_missing
from .completeness import STATES

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

NOTEBOOK_ROWS = 25
BANNER_STYLE = "background:#fff3cd;border:1px solid #e0b84c;padding:.5em 1em;font-weight:600;color:#1d2430"
ISSUE_VIEW = ("accessor", "organization_path", "environment", "entity", "status", "exception", "message")
STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:72rem;
color:#1d2430;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem}
.meta{color:#5b6475;font-size:.9rem}
.complete{color:#2d6a3e}
table{border-collapse:collapse;font-size:.85rem;margin:.4rem 0}
th,td{border-bottom:1px solid #dde1e8;padding:.25rem .6rem;text-align:left}
th{background:#f2f4f8}td.num{text-align:right}
img{max-width:100%;height:auto}
"""


class Renderable(Protocol):
    """What the renderings read from a :class:`~cloudmc_frames.reports.report.Report` (which
    imports this module: the protocol keeps the two apart)."""

    name: str
    title: str
    frame: pd.DataFrame
    summary: pd.DataFrame
    issues: pd.DataFrame
    coverage: pd.DataFrame
    plotter: Callable[..., None] | None
    tables: dict[str, pd.DataFrame]
    titles: dict[str, str]
    notes: tuple[str, ...]
    views: dict[str, tuple[str, ...]]
    scope: str
    generated_at: pd.Timestamp

    @property
    def complete(self) -> bool:
        """True when every scope was read."""
        ...

    @property
    def failed_scopes(self) -> int:
        """How many scopes could not be read."""
        ...

    def plot(self, ax: Axes | None = None, **options: Any) -> Axes:
        """The report's chart."""
        ...


# -- shared pieces ------------------------------------------------------------------------------

def cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Objects for display: floats to one decimal (whole ones as ints), None for missing values."""
    safe = none_for_missing(frame)
    for name in frame.columns:
        if pd.api.types.is_float_dtype(frame[name]):
            safe[name] = pd.Series([_number(v) for v in safe[name]], index=safe.index, dtype=object)
    return safe


def _number(value: float | None) -> str | None:
    """``1378.94`` -> ``"1378.9"``, ``293.0`` -> ``"293"``."""
    if value is None:
        return None
    text = f"{float(value):.1f}"
    return text[:-2] if text.endswith(".0") else text


def shown(report: Renderable, name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with only the columns ``report.views[name]`` says are meant for reading."""
    view = report.views.get(name)
    return frame if view is None else frame[[c for c in view if c in frame.columns]]


def banner(report: Renderable) -> str | None:
    """The "incomplete" line with the figures it touches, or None when every scope was read."""
    if report.complete:
        return None
    figures = figure_states(report)
    return (f"incomplete: {report.failed_scopes} scopes failed; the numbers below miss what could "
            "not be read (see Issues)" + (f". {figures}" if figures else ""))


def figure_states(report: Renderable) -> str | None:
    """``"not evaluated: a, b; partial: c"`` from the summary's ``completeness`` column, or None."""
    summary = report.summary
    if "completeness" not in summary or summary.empty:
        return None
    names, states = summary.iloc[:, 0].astype(str), summary["completeness"].astype(str)
    parts = [f"{state}: {', '.join(names[states == state])}" for state in STATES[:0:-1]
             if (states == state).any()]
    return "; ".join(parts) or None


def meta_line(report: Renderable) -> str:
    """When, which organizations, and how many scopes were read with what outcome."""
    counts = report.coverage["status"].value_counts() if not report.coverage.empty else pd.Series()
    outcome = ", ".join(f"{int(n)} {status}" for status, n in counts.items() if n)
    when = report.generated_at.strftime("%Y-%m-%d %H:%M UTC")
    scopes = f"{len(report.coverage)} scopes read ({outcome})" if outcome else "no scopes read"
    return f"Generated {when} by cloudmc_frames {__version__} · {report.scope} · {scopes}"


def sections(report: Renderable) -> list[tuple[str, pd.DataFrame]]:
    """Titled tables in reading order: summary, extra tables, rows, issues."""
    parts = [("Summary", report.summary)]
    parts += [(report.titles.get(name, name), shown(report, name, table))
              for name, table in report.tables.items()]
    parts.append((f"Rows ({len(report.frame)})", shown(report, "frame", report.frame)))
    if not report.complete:
        parts.append(("Issues", report.issues[[c for c in ISSUE_VIEW if c in report.issues]]))
    return parts


# -- text and markdown --------------------------------------------------------------------------

def table_text(frame: pd.DataFrame, tablefmt: str) -> str:
    """One table through tabulate; an empty frame says so."""
    if frame.empty:
        return "(none)"
    align = ["right" if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
             else "left" for c in frame.columns]
    return tabulate(cells(frame), headers="keys", tablefmt=tablefmt, showindex=False,
                    disable_numparse=True, colalign=align)


def text(report: Renderable) -> str:
    """Plain text for a terminal."""
    lines = [report.title, "=" * len(report.title), meta_line(report)]
    if banner(report):
        lines += ["", f"!! {banner(report)}"]
    for title, frame in sections(report):
        lines += ["", title, "-" * len(title), table_text(frame, "simple")]
    if report.notes:
        lines += ["", "Notes", "-----", *(f"* {note}" for note in report.notes)]
    return "\n".join(lines) + "\n"


def markdown(report: Renderable) -> str:
    """Markdown with pipe tables."""
    lines = [f"# {report.title}", "", meta_line(report)]
    if banner(report):
        lines += ["", f"> **{banner(report)}**"]
    for title, frame in sections(report):
        lines += ["", f"## {title}", "", table_text(frame, "github")]
    if report.notes:
        lines += ["", "## Notes", "", *(f"* {note}" for note in report.notes)]
    return "\n".join(lines) + "\n"


# -- JSON ---------------------------------------------------------------------------------------

def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready records: ISO dates, null for missing values."""
    return json.loads(frame.to_json(orient="records", date_format="iso", force_ascii=False))


def json_document(report: Renderable) -> dict[str, Any]:
    """Everything a program needs from a report, as plain JSON values."""
    return {
        "report": report.name, "title": report.title,
        "generated_at": report.generated_at.isoformat(), "scope": report.scope,
        "complete": report.complete, "failed_scopes": report.failed_scopes,
        "summary": records(report.summary), "rows": records(report.frame),
        "tables": {name: records(table) for name, table in report.tables.items()},
        "issues": records(report.issues[[c for c in ISSUE_VIEW if c in report.issues]]),
        "notes": list(report.notes),
    }


# -- HTML ---------------------------------------------------------------------------------------

def png_bytes(figure: Figure) -> bytes:
    """A figure as PNG bytes (Agg, no pyplot)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def image_tag(report: Renderable) -> str:
    """The chart as an ``<img>`` with a base64 PNG data URI ("" when the report has no chart)."""
    if report.plotter is None:
        return ""
    axes = report.plot()
    data = base64.b64encode(png_bytes(axes.figure)).decode("ascii")
    alt = html.escape(axes.get_title() or report.title)
    return f'<figure><img alt="{alt}" src="data:image/png;base64,{data}"></figure>'


def table_html(frame: pd.DataFrame, max_rows: int | None = None) -> str:
    """An escaped HTML table; with ``max_rows``, the first rows and a count of the rest."""
    if frame.empty:
        return "<p>(none)</p>"
    head = frame if max_rows is None else frame.head(max_rows)
    table = cells(head).to_html(index=False, na_rep="", border=0, escape=True)
    if max_rows is not None and len(frame) > max_rows:
        table += f"<p class=\"meta\">… {len(frame) - max_rows} more rows in <code>.frame</code></p>"
    return table


def html_body(report: Renderable, max_rows: int | None = None) -> str:
    """The report as an HTML fragment (used by notebooks and by the full page)."""
    parts = [f"<h1>{html.escape(report.title)}</h1>",
             f"<p class=\"meta\">{html.escape(meta_line(report))}</p>"]
    note = banner(report)
    parts.append(f'<div class="banner" role="alert" style="{BANNER_STYLE}">{html.escape(note)}</div>'
                 if note else '<p class="complete">complete: every scope was read</p>')
    for index, (title, frame) in enumerate(sections(report)):
        parts.append(f"<h2>{html.escape(title)}</h2>")
        parts.append(table_html(frame, max_rows if title.startswith("Rows") else None))
        if index == 0:
            parts.append(image_tag(report))
    if report.notes:
        items = "".join(f"<li>{html.escape(n)}</li>" for n in report.notes)
        parts.append(f"<h2>Notes</h2><ul>{items}</ul>")
    return "\n".join(parts)


def html_page(report: Renderable) -> str:
    """A standalone page: inline CSS, tables and the chart embedded; no external requests."""
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(report.title)}</title><style>{STYLE}</style></head>\n"
            f"<body>\n{html_body(report)}\n</body></html>\n")
