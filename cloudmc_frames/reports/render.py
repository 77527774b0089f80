"""Render a :class:`~cloudmc_frames.reports.report.Report` as text, markdown, CSV/JSON values or HTML.

Rules every rendering follows:

* a missing number prints as an em dash (``—``), missing text as nothing; never ``nan``,
  ``<NA>`` or ``None``; counts print as integers (``293``, not ``293.0``), other floats with one
  decimal; CSV and JSON write whole floats as integers too (see :mod:`.pieces`);
* text fits :data:`.textfit.WIDTH` (120) columns: a too-wide table says a column with one value
  in every row once above it, long cells wrap, still too wide tables split into column blocks
  (names kept whole), paragraphs wrap;
* a report with ``groups`` (the audit: ``"rule"``) shows its rows per group, each group headed
  by its counts and completeness from the summary; in HTML each group is a collapsed
  ``<details>`` element;
* HTML fits a 1,280 px window: the page is at most 72rem wide and every table scrolls inside
  its own box; the page shows every column of the frame (text and markdown show ``views``);
* an incomplete report always carries ``incomplete: N scopes failed`` and names the figures
  that are partial or not evaluated.

Example::

    >>> print(render.text(report))                        # doctest: +SKIP
"""

from __future__ import annotations

import base64
import html
import io
import json
from typing import TYPE_CHECKING, Any

import pandas as pd

from .pieces import (
    ISSUE_VIEW,
    Renderable,
    banner,
    cells,
    export_frame,
    fact_lines,
    groups_of,
    is_number,
    lifted,
    meta_line,
    sections,
)
from .textfit import WIDTH, fit_table, natural_width, paragraph

if TYPE_CHECKING:
    from matplotlib.figure import Figure

NOTEBOOK_ROWS = 25
WRAP_CHARS = 40  # an HTML text column with longer values wraps inside a minimum width
SCROLL_STYLE = "overflow-x:auto;max-width:100%"  # inline too: notebooks show html_body without STYLE
BANNER_STYLE = "background:#fff3cd;border:1px solid #e0b84c;padding:.5em 1em;font-weight:600;color:#1d2430"
STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:72rem;
color:#1d2430;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem}
.meta{color:#5b6475;font-size:.9rem}
.complete{color:#2d6a3e}
.scroll{overflow-x:auto;max-width:100%;margin:.4rem 0}
table{border-collapse:collapse;font-size:.85rem}
th,td{border-bottom:1px solid #dde1e8;padding:.25rem .6rem;text-align:left;white-space:nowrap;
vertical-align:top}
th{background:#f2f4f8}td.num,th.num{text-align:right}
td.wrap{white-space:normal;min-width:16rem;max-width:30rem}
details{border:1px solid #dde1e8;border-radius:4px;margin:.4rem 0;padding:.2rem .6rem}
summary{cursor:pointer;padding:.2rem 0}
img{max-width:100%;height:auto}
"""


# -- text and markdown --------------------------------------------------------------------------

def table_text(frame: pd.DataFrame, tablefmt: str, *, lift: bool = False) -> str:
    """One table through tabulate (``simple`` tables fit 120 columns), without columns that hold
    nothing; an empty frame says so. ``lift``: a too-wide ``simple`` table says a text column
    with one value in every row once above it (reports do; listings keep their columns)."""
    if frame.empty:
        return "(none)"
    frame = frame.loc[:, frame.notna().any()]  # a column with nothing in it says nothing here
    if tablefmt == "simple":
        return _simple_text(frame, lift)
    align = ["right" if is_number(frame[c]) else "left" for c in frame.columns]
    shown_cells = cells(frame)
    from tabulate import tabulate

    return tabulate(shown_cells, headers="keys", tablefmt=tablefmt, showindex=False,
                    disable_numparse=True, colalign=align)


def _simple_text(frame: pd.DataFrame, lift: bool) -> str:
    """A table at most 120 columns wide; when it is wider, text columns holding one value in every
    row (but the first) are said once above it (``   completeness: complete``) instead of per row
    (numbers stay: equal figures are data, not a label)."""
    shown_cells = cells(frame)
    pairs: list[tuple[str, str]] = []
    if lift and len(frame) > 1 and natural_width(shown_cells) > WIDTH:
        pairs = [(c, shown_cells[c].iloc[0]) for c in frame.columns[1:]
                 if not is_number(frame[c]) and shown_cells[c].nunique() == 1]
        frame = frame.drop(columns=[c for c, _ in pairs])
        shown_cells = shown_cells.drop(columns=[c for c, _ in pairs])
    align = ["right" if is_number(frame[c]) else "left" for c in frame.columns]
    return "\n".join([*fact_lines(pairs), fit_table(shown_cells, align)])


def text(report: Renderable) -> str:
    """Plain text for a terminal, at most 120 columns wide."""
    lines = [report.title, "=" * len(report.title), paragraph(meta_line(report))]
    if banner(report):
        lines += ["", paragraph(banner(report), first="!! ", rest="   ")]
    for part in sections(report):
        lines += ["", part.title, "-" * len(part.title)]
        grouped = _text_groups(report, part.frame) if part.grouped else None
        lines += grouped or [table_text(part.frame, "simple", lift=True)]
    if report.notes:
        lines += ["", "Notes", "-----", *(paragraph(note, first="* ", rest="  ") for note in report.notes)]
    return "\n".join(lines) + "\n"


def _text_groups(report: Renderable, frame: pd.DataFrame) -> list[str]:
    lines: list[str] = []
    for _, heading, rows in groups_of(report, frame):
        pairs, rest = lifted(rows)
        lines += ["", paragraph(heading, first="## ", rest="   "), *fact_lines(pairs)]
        if not rest.empty and len(rest.columns):
            lines.append(table_text(rest, "simple"))
    return lines or ["(none)"]


def markdown(report: Renderable) -> str:
    """Markdown with pipe tables; grouped rows under a heading per group."""
    lines = [f"# {report.title}", "", meta_line(report)]
    if banner(report):
        lines += ["", f"> **{banner(report)}**"]
    for part in sections(report):
        lines += ["", f"## {part.title}"]
        if not part.grouped:
            lines += ["", table_text(part.frame, "github")]
            continue
        for _, heading, rows in groups_of(report, part.frame):
            pairs, rest = lifted(rows)
            lines += ["", f"### {heading}", "", *(f"* {name}: {value}" for name, value in pairs)]
            if not rest.empty and len(rest.columns):
                lines += ["", table_text(rest, "github")]
    if report.notes:
        lines += ["", "## Notes", "", *(f"* {note}" for note in report.notes)]
    return "\n".join(lines) + "\n"


# -- JSON ---------------------------------------------------------------------------------------

def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready records: ISO dates, null for missing values, whole floats as integers."""
    return json.loads(export_frame(frame).to_json(orient="records", date_format="iso", force_ascii=False))


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
    """An escaped HTML table in its own scrolling box; with ``max_rows``, the first rows and a
    count of the rest. Numbers align right; long text wraps inside a minimum width."""
    if frame.empty:
        return '<p class="meta">(none)</p>'
    head = frame if max_rows is None else frame.head(max_rows)
    shown_cells = cells(head)
    kinds = [_column_class(frame[c], shown_cells[c]) for c in frame.columns]
    header = _html_row("th", [str(c) for c in frame.columns], kinds)
    body = "".join(_html_row("td", row, kinds) for row in shown_cells.itertuples(index=False))
    table = (f'<div class="scroll" style="{SCROLL_STYLE}"><table><thead>{header}</thead>'
             f"<tbody>{body}</tbody></table></div>")
    if max_rows is not None and len(frame) > max_rows:
        table += f"<p class=\"meta\">… {len(frame) - max_rows} more rows in <code>.frame</code></p>"
    return table


def _html_row(tag: str, values: Any, kinds: list[str]) -> str:
    return "<tr>" + "".join(f'<{tag} class="{k}">{html.escape(v)}</{tag}>'
                            for v, k in zip(values, kinds, strict=True)) + "</tr>"


def _column_class(column: pd.Series, shown_cells: pd.Series) -> str:
    """``num`` (right-aligned), ``wrap`` (prose longer than :data:`WRAP_CHARS`) or nothing
    (names, paths and ids stay on one line)."""
    if is_number(column):
        return "num"
    prose = shown_cells.str.contains(" ", regex=False).any()
    return "wrap" if prose and shown_cells.str.len().max() > WRAP_CHARS else ""


def _html_groups(report: Renderable, frame: pd.DataFrame, max_rows: int | None) -> str:
    parts = [f"<details><summary>{html.escape(heading)}</summary>{table_html(rows, max_rows)}</details>"
             for _, heading, rows in groups_of(report, frame)]
    return "\n".join(parts) or '<p class="meta">(none)</p>'


def html_body(report: Renderable, max_rows: int | None = None) -> str:
    """The report as an HTML fragment (used by notebooks and by the full page)."""
    parts = [f"<h1>{html.escape(report.title)}</h1>",
             f"<p class=\"meta\">{html.escape(meta_line(report))}</p>"]
    note = banner(report)
    parts.append(f'<div class="banner" role="alert" style="{BANNER_STYLE}">{html.escape(note)}</div>'
                 if note else '<p class="complete">complete: every scope was read</p>')
    for index, part in enumerate(sections(report, every_column=True)):
        parts.append(f"<h2>{html.escape(part.title)}</h2>")
        rows = max_rows if part.title.startswith("Rows") else None
        parts.append(_html_groups(report, part.frame, rows) if part.grouped else table_html(part.frame, rows))
        if index == 0:
            parts.append(image_tag(report))
    if report.notes:
        items = "".join(f"<li>{html.escape(n)}</li>" for n in report.notes)
        parts.append(f"<h2>Notes</h2><ul>{items}</ul>")
    return "\n".join(parts)


def html_page(report: Renderable) -> str:
    """A standalone page: inline CSS, tables and the chart embedded; no external requests."""
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(report.title)}</title><style>{STYLE}</style></head>\n"
            f"<body>\n{html_body(report)}\n</body></html>\n")

