"""``Report``: one report's frames, figure and renderings (text, markdown, CSV, JSON, HTML).

A report is data first: ``.frame`` (tidy rows), ``.summary`` (a small frame), ``.tables`` (named
extra frames), ``.issues`` and ``.coverage`` (what the crawl behind it could and could not read).
Everything else renders those frames; nothing here fetches or prints.

Example::

    >>> report = cmf.reports.inventory(client)               # doctest: +SKIP
    >>> report.complete, report.summary                      # doctest: +SKIP
    >>> ax = report.plot()                                   # a matplotlib Axes (no pyplot)
    >>> report.to_html("inventory.html")                     # one self-contained page
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..errors import ConfigError
from . import pieces, render

FIGURE_SIZE = (9.0, 5.0)


@dataclass(eq=False)
class Report:
    """Frames of one report plus how to draw it.

    Attributes:
        name: ``"inventory"``, ``"capacity"`` or ``"audit"`` (file names, JSON).
        title: the heading of every rendering.
        frame: the tidy result, one row per observation; what ``to_csv`` writes.
        summary: a small frame that answers the report's question at a glance.
        issues: ``client.issues`` rows added while the report crawled (empty when complete).
        coverage: ``client.coverage`` rows of the report's crawl (one per scope read).
        tables: named extra frames (e.g. ``"rollup"``); ``titles`` holds their headings.
        notes: units and caveats, shown under the tables.
        views: columns shown in text/markdown/HTML, per table name (``"frame"`` for the frame);
            CSV and JSON keep every column.
        scope: which organizations were read, in words.
        groups: a frame column whose values group the rows in renderings (the audit: ``"rule"``).
        generated_at: when the report was built (UTC).
    """

    name: str
    title: str
    frame: pd.DataFrame
    summary: pd.DataFrame
    issues: pd.DataFrame
    coverage: pd.DataFrame
    plotter: Callable[..., None] | None = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    views: dict[str, tuple[str, ...]] = field(default_factory=dict)
    scope: str = ""
    groups: str | None = None
    generated_at: pd.Timestamp = field(default_factory=lambda: pd.Timestamp.now(tz="UTC"))

    @property
    def complete(self) -> bool:
        """True when every scope of the crawl was read (``issues`` is empty)."""
        return self.issues.empty

    @property
    def failed_scopes(self) -> int:
        """How many scopes could not be read."""
        return len(self.issues)

    def plot(self, ax: Axes | None = None, **options: Any) -> Axes:
        """Draw the report's chart on ``ax`` (a new Figure's Axes when None) and return the Axes.

        Never calls ``plt.show()`` and never touches pyplot's global state; in a notebook,
        end a cell with ``report.plot().figure`` or pass ``ax=`` from ``plt.subplots()``.
        """
        if ax is None:
            ax = Figure(figsize=FIGURE_SIZE, layout="constrained").subplots()
        if self.plotter is not None:
            self.plotter(self, ax, **options)
        return ax

    def to_png(self, path: str | Path | None = None, **options: Any) -> bytes:
        """The chart as PNG bytes (written to ``path`` too when given)."""
        data = render.png_bytes(self.plot(**options).figure)
        if path is not None:
            Path(path).write_bytes(data)
        return data

    def to_text(self) -> str:
        """Plain-text rendering (tabulate ``simple`` tables) for a terminal."""
        return render.text(self)

    def to_markdown(self) -> str:
        """Markdown rendering (tabulate ``github`` tables) for tickets, chats and docs."""
        return render.markdown(self)

    def to_csv(self, path: str | Path | None = None, *, table: str | None = None) -> str | None:
        """Write ``.frame`` (or the extra table named ``table``) as CSV (UTF-8, no index, ISO
        dates, whole numbers without ``.0``); without ``path`` return the text.

        >>> report.to_csv("commitments.csv", table="commitments")      # doctest: +SKIP
        """
        if table is not None and table not in self.tables:
            raise ConfigError(f"no table {table!r} in the {self.name} report; it has: "
                              f"{', '.join(self.tables) or 'none'}")
        frame = self.frame if table is None else self.tables[table]
        return pieces.export_frame(frame).to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%SZ")

    def to_json(self, path: str | Path | None = None) -> str:
        """One JSON document: metadata, ``summary``, ``rows`` (the frame), ``issues``, ``notes``."""
        text = json.dumps(render.json_document(self), ensure_ascii=False, indent=1)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def to_html(self, path: str | Path | None = None) -> str:
        """A self-contained HTML page (tables, the chart as base64 PNG, an "incomplete" banner)."""
        page = render.html_page(self)
        if path is not None:
            Path(path).write_text(page, encoding="utf-8")
        return page

    def _repr_html_(self) -> str:
        return render.html_body(self, max_rows=render.NOTEBOOK_ROWS)

    def __repr__(self) -> str:
        state = "complete" if self.complete else f"incomplete: {self.failed_scopes} scopes failed"
        return f"<Report {self.name}: {len(self.frame)} rows, {state}>"
