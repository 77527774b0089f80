"""What every rendering of a report shares: the frames' cell text and the parts in reading order.

* :func:`cells`: strings for display; a missing number is an em dash (``—``), missing text is
  nothing, integers print as such and other floats with one decimal; :func:`export_frame` does
  the same for CSV and JSON values (whole floats as integers).
* :func:`sections`: summary, extra tables, rows (maybe per group), issues; :func:`banner` and
  :func:`figure_states` say what is incomplete; :func:`meta_line` when and what was read.
* Groups (the audit's rows per rule): :func:`groups_of` with a heading of counts and
  completeness from the summary (:func:`group_heading`), and the columns that are the same in
  every row of a group lifted out of its table (:func:`lifted`).

Example::

    >>> cells(pd.DataFrame({"n": pd.array([293, None], dtype="Int64"), "gib": [1378.94, 2.0]}))
         n     gib
    0  293  1378.9
    1    —       2
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd

from .._version import __version__
from ..frames import none_for_missing
from .completeness import STATES
from .textfit import paragraph

if TYPE_CHECKING:
    from matplotlib.axes import Axes

MISSING_NUMBER = "—"
ISSUE_VIEW = ("accessor", "organization_path", "environment", "entity", "status", "exception", "message")


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
