"""``TaskProgress``: one bar per CloudMC task plus an overall bar, polled off the main thread.

Example::

    tasks = [cmf.operate(client, code, env, "instances", i, "stop", org_id=org) for i in ids]
    progress = cmf.widgets.TaskProgress(client, tasks)   # last expression: the bars render
    progress.join(); progress.results                    # final Task (or error) per task
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
import pandas as pd

from ..batch import wait_many
from ..client import Client
from ..errors import CloudMCError, ConfigError
from ..tasks import DEFAULT_TIMEOUT, FAILED, POLL_INITIAL, SUCCESS, Task
from ._base import FormBase, describe_error, summarize
from .sources import tasks_from_outcomes

BAR_MAX = 100
STYLE = {SUCCESS: "success", FAILED: "danger"}


class TaskProgress(FormBase):
    """Bars for ``tasks`` (Tasks, task ids, or an outcomes frame from ``operate_many(wait=False)``).

    Polling starts at once on ``worker`` (pass ``start=False`` and call :meth:`run` to poll on
    your own thread). Each bar goes 0 -> 100 when its task ends (CloudMC reports no
    percentage), green on SUCCESS, red on FAILED; the overall bar counts ended tasks. Status
    text shows PENDING/SUCCESS/FAILED and the elapsed time; results and error envelopes go to
    ``output`` when all tasks ended. ``results`` holds the final Task or error per task.
    """

    def __init__(self, client: Client, tasks: Any, *, labels: Sequence[str] | None = None,
                 timeout: float = DEFAULT_TIMEOUT, interval: float = POLL_INITIAL,
                 start: bool = True) -> None:
        super().__init__()
        self.client = client
        self.tasks, self.labels = _as_tasks(client, tasks, labels)
        self.results: list[Task | CloudMCError] = list(self.tasks)
        self.timeout, self.interval = timeout, interval
        self.bars = [widgets.IntProgress(value=0, min=0, max=BAR_MAX, description=_short(label),
                                         bar_style="info", style={"description_width": "10em"})
                     for label in self.labels]
        self.statuses = [widgets.HTML(_status_html(t, t.elapsed())) for t in self.tasks]
        self.overall = widgets.IntProgress(value=0, min=0, max=max(1, len(self.tasks)),
                                           description="overall", style={"description_width": "10em"})
        self.summary = widgets.HTML(self._summary_text())
        rows = [widgets.HBox([bar, status]) for bar, status in zip(self.bars, self.statuses, strict=True)]
        self.box = widgets.VBox([widgets.HBox([self.overall, self.summary]), *rows, self.output])
        if start:
            self.start()

    def __repr__(self) -> str:
        return f"<TaskProgress {self.ended} of {len(self.tasks)} tasks ended>"

    @property
    def ended(self) -> int:
        """How many tasks ended (SUCCESS, FAILED, or an error such as a time-out)."""
        return sum(1 for r in self.results if not isinstance(r, Task) or r.done)

    @property
    def done(self) -> bool:
        return self.ended == len(self.tasks)

    def start(self) -> None:
        """Poll on a new worker thread (``self.worker``)."""
        self.start_worker(self.run, "cmf-task-progress")

    def run(self) -> list[Task | CloudMCError]:
        """Poll until every task ended, updating the bars; returns ``results``."""
        for i, task in enumerate(self.tasks):
            if task.done:
                self._update(i, task)
        wait_many(self.tasks, timeout=self.timeout, interval=self.interval,
                  on_update=self.guarded(self._update))
        self._report()
        return self.results

    def _update(self, i: int, polled: Task | CloudMCError) -> None:
        self.results[i] = polled
        task = polled if isinstance(polled, Task) else self.tasks[i]
        self.statuses[i].value = _status_html(polled, task.elapsed())
        if isinstance(polled, Task) and not polled.done:
            return
        self.bars[i].bar_style = STYLE.get(getattr(polled, "status", None), "warning")
        self.bars[i].value = BAR_MAX
        self.overall.value = self.ended
        self.summary.value = self._summary_text()
        if self.done:
            failed = any(not isinstance(r, Task) or r.status != SUCCESS for r in self.results)
            self.overall.bar_style = "warning" if failed else "success"

    def _summary_text(self) -> str:
        ok = sum(1 for r in self.results if isinstance(r, Task) and r.status == SUCCESS)
        return html.escape(f"{self.ended} of {len(self.tasks)} ended, {ok} succeeded")

    def _report(self) -> None:
        for label, result in zip(self.labels, self.results, strict=True):
            if isinstance(result, CloudMCError):
                self.show_error(result, prefix=f"{label}: ")
            elif result.failure() is not None:  # FAILED, or resumed EXPIRED / UNKNOWN
                self.show_error(result.failure(), prefix=f"{label}: ")
            else:
                self.say(f"{label}: {result.status} {summarize(result.result)}")


def _as_tasks(client: Client, tasks: Any, labels: Sequence[str] | None) -> tuple[list[Task], list[str]]:
    if isinstance(tasks, pd.DataFrame):
        names = tasks.dropna(subset=["task_id"])["name"] if "task_id" in tasks else None
        found = tasks_from_outcomes(client, tasks)
        default = [str(n) if isinstance(n, str) else t.id[:8] for n, t in zip(names, found, strict=True)]
    else:
        items = [tasks] if isinstance(tasks, Task | str) else list(tasks)
        found = [t if isinstance(t, Task) else Task.from_id(t, client) for t in items]
        default = [t.label or f"task {t.id[:8]}" for t in found]
    chosen = default if labels is None else [str(label) for label in labels]
    if len(chosen) != len(found):
        raise ConfigError(f"got {len(chosen)} labels for {len(found)} tasks")
    return found, chosen


def _status_html(polled: Task | CloudMCError, elapsed: float) -> str:
    if isinstance(polled, CloudMCError):
        return f"<b>{type(polled).__name__}</b> {html.escape(describe_error(polled).splitlines()[0])}"
    colour = {"SUCCESS": "green", "FAILED": "#b00"}.get(polled.status, "inherit")
    return f"<b style='color:{colour}'>{polled.status}</b> {elapsed:.1f} s"


def _short(label: str, width: int = 18) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"
