"""Plain-text tables and paragraphs that fit a terminal of :data:`WIDTH` columns.

A table that is too wide first has its long text columns wrapped inside their cells (prose
first, widest first, never below :data:`MIN_PROSE`, then :data:`MIN_WRAP` characters; the first
column never); if it is still too wide it is cut into blocks of columns, each repeating the
first (key) column, with names whole and prose wrapped at no less than :data:`MIN_PROSE`.
Paragraphs wrap with a hanging indent.

Example::

    >>> frame = pd.DataFrame({"rule": ["a"], "detail": ["word " * 40]})
    >>> max(map(len, fit_table(frame, ["left", "left"], width=60).splitlines())) <= 60
    True
"""

from __future__ import annotations

import textwrap

import pandas as pd
from tabulate import tabulate

WIDTH = 120
MIN_WRAP = 16
MIN_PROSE = 24
GAP = 2  # tabulate "simple" puts two spaces between columns
PAD = 2  # ... and makes each column at least two wider than its header


def fit_table(cells: pd.DataFrame, align: list[str], *, width: int = WIDTH, tablefmt: str = "simple") -> str:
    """``cells`` (strings, ``""`` for missing) as a tabulate table at most ``width`` wide."""
    text = _tabulate(cells, align, None, tablefmt)
    if line_width(text) <= width:
        return text
    limits = wrap_limits(cells, align, width)
    text = _tabulate(cells, align, limits, tablefmt)
    if line_width(text) <= width:
        return text
    limits = wrap_limits(cells, align, width, names=False)  # in blocks anyway: names stay whole
    return "\n\n".join(_tabulate(cells.iloc[:, block], [align[i] for i in block],
                                 [limits[i] for i in block], tablefmt)
                       for block in column_blocks(_widths(cells, limits), width))


def wrap_limits(cells: pd.DataFrame, align: list[str], width: int, *,
                names: bool = True) -> list[int | None]:
    """Per column, the width to wrap it at (None: keep it whole).

    The first column (the key) never wraps. Prose columns (values with spaces) give way first,
    widest first, down to :data:`MIN_PROSE`, then down to :data:`MIN_WRAP`; other text columns
    (paths, names) only then, down to :data:`MIN_WRAP`; numbers never. With ``names=False``
    (a table cut into column blocks anyway) prose stops at :data:`MIN_PROSE` and names stay whole.
    """
    widths = _widths(cells, [None] * len(cells.columns))
    limits: list[int | None] = [None] * len(widths)
    excess = sum(widths) + GAP * (len(widths) - 1) - width
    text = [i for i, a in enumerate(align) if a == "left" and i > 0]
    prose = [i for i in text if cells.iloc[:, i].str.contains(" ", regex=False).any()]
    others = [i for i in text if i not in prose]
    tiers = ((prose, MIN_PROSE), (prose, MIN_WRAP), (others, MIN_WRAP)) if names else ((prose, MIN_PROSE),)
    for tier, floor in tiers:
        excess = _shrink(cells, widths, limits, tier, floor, excess)
    return limits


def _shrink(cells: pd.DataFrame, widths: list[int], limits: list[int | None], tier: list[int], floor: int,
            excess: int) -> int:
    """Narrow the widest columns of ``tier`` (evening them out, never below ``floor`` or their
    header) until ``excess`` is gone; returns what is left of it."""
    candidates = {i for i in tier if widths[i] > max(floor, len(str(cells.columns[i])) + PAD)}
    while excess > 0 and candidates:
        widest = max(sorted(candidates), key=widths.__getitem__)
        others = [widths[i] for i in candidates if i != widest]
        target = max(floor, widths[widest] - excess, len(str(cells.columns[widest])) + PAD,
                     min(max(others, default=0), widths[widest] - 1))
        if target >= widths[widest]:
            candidates.discard(widest)
            continue
        excess -= widths[widest] - target
        widths[widest] = limits[widest] = target
    return excess


def column_blocks(widths: list[int], width: int) -> list[list[int]]:
    """Column indexes in blocks no wider than ``width``, each starting with column 0."""
    blocks, current = [], [0]
    used = widths[0]
    for index in range(1, len(widths)):
        if used + GAP + widths[index] > width and len(current) > 1:
            blocks.append(current)
            current, used = [0], widths[0]
        current.append(index)
        used += GAP + widths[index]
    blocks.append(current)
    return blocks


def natural_width(cells: pd.DataFrame) -> int:
    """How wide ``cells`` is as a table with nothing wrapped."""
    return sum(_widths(cells, [None] * len(cells.columns))) + GAP * (len(cells.columns) - 1)


def paragraph(text: str, *, width: int = WIDTH, first: str = "", rest: str = "") -> str:
    """``text`` wrapped at ``width``, the first line after ``first``, the others after ``rest``."""
    return textwrap.fill(text, width=width, initial_indent=first, subsequent_indent=rest,
                         break_on_hyphens=False) or first.rstrip()


def line_width(text: str) -> int:
    """The longest line of ``text``."""
    return max((len(line) for line in text.splitlines()), default=0)


def _widths(cells: pd.DataFrame, limits: list[int | None]) -> list[int]:
    natural = [max([len(str(c)) + PAD, *(line_width(str(v)) for v in cells[c])]) for c in cells.columns]
    return [n if limit is None else max(min(n, limit), min(len(str(c)), limit) + PAD)
            for n, limit, c in zip(natural, limits, cells.columns, strict=True)]


def _tabulate(cells: pd.DataFrame, align: list[str], limits: list[int | None] | None, tablefmt: str) -> str:
    return tabulate(cells, headers="keys", tablefmt=tablefmt, showindex=False, disable_numparse=True,
                    colalign=align, maxcolwidths=limits, maxheadercolwidths=limits)
