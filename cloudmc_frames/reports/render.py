"""Render a :class:`~cloudmc_frames.reports.report.Report` as text, markdown, CSV/JSON values or HTML.

Rules every rendering follows:

* a missing number prints as an em dash (``—``), missing text as nothing; never ``nan``,
  ``<NA>`` or ``None``; counts print as integers (``293``, not ``293.0``), other floats with one
  decimal; CSV and JSON write whole floats as integers too (:func:`export_frame`);
* text fits :data:`.textfit.WIDTH` (120) columns: long cells wrap, wide tables split into
  column blocks, paragraphs wrap;
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd

from .._version import __version__
from ..frames import none_for_missing
from .completeness import STATES
from .textfit import fit_table, paragraph

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

NOTEBOOK_ROWS = 25
MISSING_NUMBER = "—"
WRAP_CHARS = 40  # an HTML text column with longer values wraps inside a minimum width
BANNER_STYLE = "background:#fff3cd;border:1px solid #e0b84c;padding:.5em 1em;font-weight:600;color:#1d2430"
ISSUE_VIEW = ("accessor", "organization_path", "environment", "entity", "status", "exception", "message")
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
    groups: str | None
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


@dataclass(frozen=True)
class Section:
    """One titled part of a rendering: a table, or the frame's rows shown per group."""

    title: str
    frame: pd.DataFrame
    grouped: bool = False


# -- shared pieces ------------------------------------------------------------------------------

def cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Strings for display: integers as such, other floats to one decimal, ``—`` for a missing
    number, ``""`` for missing text."""
    return pd.DataFrame({name: [_cell(v, is_number(frame[name])) for v in none_for_missing(frame[name])]
                         for name in frame.columns}, index=frame.index, columns=frame.columns)


def _cell(value: Any, number: bool) -> str:
    if value is None:
        return MISSING_NUMBER if number else ""
    if isinstance(value, float):
        return _number(value)
    return str(value)


def _number(value: float) -> str:
    """``1378.94`` -> ``"1378.9"``, ``293.0`` -> ``"293"``."""
    text = f"{float(value):.1f}"
    return text[:-2] if text.endswith(".0") else text


def is_number(series: pd.Series) -> bool:
    """A numeric column, or one holding only numbers (the summary's ``value``); not booleans."""
    if pd.api.types.is_bool_dtype(series):
        return False
    if pd.api.types.is_numeric_dtype(series):
        return True
    present = series.dropna()
    return pd.api.types.is_object_dtype(series) and len(present) > 0 and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in present)


def export_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` for CSV and JSON: float columns (and number-only object ones) become objects
    with whole values as ints."""
    out = frame.copy()
    for name in frame.columns:
        column = frame[name]
        numbers = pd.api.types.is_object_dtype(column) and is_number(column)
        if pd.api.types.is_float_dtype(column) or numbers:
            out[name] = pd.Series([_whole(v) for v in none_for_missing(frame[name])], index=frame.index,
                                  dtype=object)
    return out


def _whole(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


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


def sections(report: Renderable, *, every_column: bool = False) -> list[Section]:
    """Titled parts in reading order: summary, extra tables, rows, issues.

    ``every_column``: the rows with all their columns (HTML), not only the ``views`` ones.
    """
    parts = [Section("Summary", report.summary)]
    parts += [Section(report.titles.get(name, name), shown(report, name, table))
              for name, table in report.tables.items()]
    rows = report.frame if every_column else shown(report, "frame", report.frame)
    title = f"Rows ({len(report.frame)})"
    if report.groups and report.groups in report.frame:
        title = f"Rows by {report.groups} ({len(report.frame)})"
    parts.append(Section(title, rows, grouped=bool(report.groups) and report.groups in report.frame))
    if not report.complete:
        parts.append(Section("Issues", report.issues[[c for c in ISSUE_VIEW if c in report.issues]]))
    return parts


def groups_of(report: Renderable, frame: pd.DataFrame) -> Iterator[tuple[str, str, pd.DataFrame]]:
    """``(key, heading, rows)`` per group of ``report.groups``, in order of first appearance."""
    keys = report.frame[report.groups].astype(str)
    for key in dict.fromkeys(keys):
        rows = frame[(keys == key).to_numpy()]
        yield key, group_heading(report, key, len(rows)), rows.drop(columns=[report.groups], errors="ignore")


def group_heading(report: Renderable, key: str, rows: int) -> str:
    """``"users_without_2fa · 25 findings: 10 high, 15 medium · complete"`` from the summary row."""
    summary = report.summary
    if summary.empty or summary.columns[0] != report.groups or key not in set(summary.iloc[:, 0].astype(str)):
        return f"{key} · {rows} rows"
    row = summary[summary.iloc[:, 0].astype(str) == key].iloc[0]
    state = str(row.get("completeness", STATES[0]))
    if state == STATES[2]:
        return f"{key} · {state}: {row.get('unread')}"
    counts = [(c, row[c]) for c in summary.columns[1:] if is_number(summary[c]) and pd.notna(row[c])]
    head = _counted(int(counts[0][1]), str(counts[0][0])) if counts else _counted(rows, "rows")
    split = ", ".join(f"{int(v)} {c}" for c, v in counts[1:] if v)
    text = f"{key} · {head}" + (f": {split}" if split else "")
    return text + (f" · {state}: {row.get('unread')}" if state != STATES[0] else " · complete")


def _counted(number: int, noun: str) -> str:
    """``"1 finding"``, ``"25 findings"``."""
    return f"{number} {noun[:-1] if number == 1 and noun.endswith('s') else noun}"


def lifted(rows: pd.DataFrame, skip: tuple[str, ...] = ("completeness",)) -> tuple[list[tuple[str, str]],
                                                                                  pd.DataFrame]:
    """Columns with one value in every row, as ``(name, value)`` (``skip`` ones, which the group
    heading already says, left out), and the rows without them."""
    if len(rows) < 2:
        return [], rows
    shown_cells = cells(rows)
    same = [c for c in rows.columns if shown_cells[c].nunique() == 1]
    pairs = [(c, shown_cells[c].iloc[0]) for c in same if shown_cells[c].iloc[0] and c not in skip]
    return pairs, rows.drop(columns=same)


def fact_lines(pairs: list[tuple[str, str]], short: int = 30) -> list[str]:
    """Short facts on one line (``severity: high · subject_type: user``), long ones on their own."""
    brief = " · ".join(f"{name}: {value}" for name, value in pairs if len(value) <= short)
    lines = [paragraph(brief, first="   ", rest="   ")] if brief else []
    return lines + [paragraph(value, first=f"   {name}: ", rest="     ")
                    for name, value in pairs if len(value) > short]


# -- text and markdown --------------------------------------------------------------------------

def table_text(frame: pd.DataFrame, tablefmt: str) -> str:
    """One table through tabulate (``simple`` tables fit 120 columns), without columns that hold
    nothing; an empty frame says so."""
    if frame.empty:
        return "(none)"
    frame = frame.loc[:, frame.notna().any()]  # a column with nothing in it says nothing here
    align = ["right" if is_number(frame[c]) else "left" for c in frame.columns]
    shown_cells = cells(frame)
    if tablefmt == "simple":
        return fit_table(shown_cells, align)
    from tabulate import tabulate

    return tabulate(shown_cells, headers="keys", tablefmt=tablefmt, showindex=False,
                    disable_numparse=True, colalign=align)


def text(report: Renderable) -> str:
    """Plain text for a terminal, at most 120 columns wide."""
    lines = [report.title, "=" * len(report.title), paragraph(meta_line(report))]
    if banner(report):
        lines += ["", paragraph(banner(report), first="!! ", rest="   ")]
    for part in sections(report):
        lines += ["", part.title, "-" * len(part.title)]
        lines += _text_groups(report, part.frame) if part.grouped else [table_text(part.frame, "simple")]
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
    header = "".join(f'<th class="{k}">{html.escape(str(c))}</th>' for c, k in zip(frame.columns, kinds,
                                                                                   strict=True))
    body = "".join("<tr>" + "".join(f'<td class="{k}">{html.escape(v)}</td>' for v, k in zip(row, kinds,
                                                                                              strict=True))
                   + "</tr>" for row in shown_cells.itertuples(index=False))
    table = f'<div class="scroll"><table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table></div>'
    if max_rows is not None and len(frame) > max_rows:
        table += f"<p class=\"meta\">… {len(frame) - max_rows} more rows in <code>.frame</code></p>"
    return table


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

