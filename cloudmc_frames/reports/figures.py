"""Chart helpers shared by the reports: horizontal bars on a given Axes, always titled and labelled.

Every chart gets a title and both axis labels, with the unit in brackets, even when there is
nothing to draw. A bar whose figure is partial (see :mod:`.completeness`) is hatched and its
label ends with "(partial)"; one not evaluated has no bar, its label ends with "(not evaluated)"
and the words "not evaluated" stand where the bar would be. Only matplotlib's object API is
used (no pyplot), so charts are thread-safe.

Example::

    >>> ax = Figure().subplots()                                            # doctest: +SKIP
    >>> hbars(ax, ["a", "b"], {"running": [3, 1]}, title="Instances",
    ...       xlabel="instances [count]", ylabel="organization")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Patch

PALETTE = {"running": "#2f7d4a", "stopped": "#8a94a6", "transitioning": "#e0a63a",
           "error": "#c2413b", "destroyed": "#4b5263", "other": "#b7a4d6",
           "high": "#c2413b", "medium": "#e0a63a", "low": "#6b8fc7",
           "under": "#4c7fb8", "over": "#c2413b"}


def short_path(path: str, keep: int = 2) -> str:
    """The last ``keep`` parts of an organization path (``…/tyrell-corp/black-mesa``)."""
    parts = str(path).split("/")
    return path if len(parts) <= keep else "…/" + "/".join(parts[-keep:])


def label(ax: Axes, *, title: str, xlabel: str, ylabel: str) -> Axes:
    """Set the title and both axis labels."""
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax


def hbars(ax: Axes, labels: Sequence[str], stacks: Mapping[str, Sequence[float]], *, title: str,
          xlabel: str, ylabel: str, colors: Mapping[str, str] | None = None,
          states: Sequence[str] | None = None) -> Axes:
    """Stacked horizontal bars, first label on top; an empty chart says "nothing to show".

    ``states``: each bar's completeness (``complete``, ``partial``, ``not evaluated``).
    """
    label(ax, title=title, xlabel=xlabel, ylabel=ylabel)
    if not labels:
        ax.text(0.5, 0.5, "nothing to show", ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
        return ax
    states = list(states or ["complete"] * len(labels))
    positions = np.arange(len(labels))[::-1]
    left = np.zeros(len(labels))
    hatches = ["//" if s == "partial" else "" for s in states]
    shown = [(name, np.asarray(values, dtype=float)) for name, values in stacks.items()]
    handles, names = [], []
    for name, values in shown:
        if not values.any() and len(shown) > 1:
            continue
        bars = ax.barh(positions, values, left=left, label=name, color=(colors or PALETTE).get(name))
        for bar, hatch in zip(bars, hatches, strict=True):
            bar.set_hatch(hatch)
        handles.append(Patch(facecolor=bars.patches[0].get_facecolor()))
        names.append(name)
        left += values
    ax.set_yticks(positions, [marked(n, s) for n, s in zip(labels, states, strict=True)])
    for position, state in zip(positions, states, strict=True):
        if state == "not evaluated":
            ax.text(0, position, " not evaluated", va="center", ha="left", fontsize="small",
                    style="italic", color="#5b6475")
    if "partial" in states:
        handles.append(Patch(facecolor="white", edgecolor="#1d2430", hatch="//"))
        names.append("partial (inputs not all read)")
    if handles and (len(shown) > 1 or "partial" in states):
        ax.legend(handles, names, loc="lower right", fontsize="small")
    ax.margins(x=0.05)
    return ax


def marked(name: str, state: str) -> str:
    """A bar label with its completeness when it is not complete."""
    return name if state == "complete" else f"{name} ({state})"
