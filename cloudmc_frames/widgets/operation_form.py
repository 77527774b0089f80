"""``OperationForm``: pick organization -> environment -> resources -> operation, confirm, run.

Example::

    vms = cmf.instances(client)
    form = cmf.widgets.OperationForm(client, vms[vms.is_running])   # or filters, or None
    form                                                          # renders the form

Tests drive it through its widgets: set ``org``/``env``/``resources``/``operation`` values,
``run_button.click()``, then ``join()`` and read ``outcomes`` / ``progress``.
"""

from __future__ import annotations

import html
import json
from typing import Any

import ipywidgets as widgets
import pandas as pd

from .. import batch, journal
from ..catalog import state_text
from ..client import Client
from ..errors import ConfigError
from ..operation_catalog import operation_spec, operations_for
from ..tasks import DEFAULT_TIMEOUT, POLL_INITIAL, Task
from ._base import FormBase, set_options
from .sources import form_source, read_rows
from .task_progress import TaskProgress

SHOWN = ["name", "operation", "status", "code", "message", "task_id"]


class OperationForm(FormBase):
    """Run one operation on resources picked from a frame (or from accessor filters).

    ``frame_or_filters``: a frame from ``cmf.instances()``/``volumes()``/``resources()`` (the
    candidates), a dict of accessor filters (``orgs``, ``service_code``, ``environment``), or
    None (everything the key sees). Only operations that fit every selected row's state are
    offered; destructive ones need the confirmation box ticked; Run is disabled while tasks run.
    After a run the listing is read again, so the options show the new states.
    """

    def __init__(self, client: Client, frame_or_filters: Any = None, *, entity_type: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT, interval: float = POLL_INITIAL,
                 max_workers: int | None = None) -> None:
        super().__init__()
        self.client, self.timeout, self.interval, self.max_workers = client, timeout, interval, max_workers
        self.entity_type, self._source, self.rows = form_source(client, frame_or_filters,
                                                                entity_type=entity_type)
        self.progress: TaskProgress | None = None
        self.outcomes: pd.DataFrame | None = None
        self.running = False
        self._build_widgets()
        with self.muted():
            self._set_orgs()

    def __repr__(self) -> str:
        return f"<OperationForm {len(self.rows)} {self.entity_type}>"

    # -- layout --------------------------------------------------------------------------------

    def _build_widgets(self) -> None:
        wide, style = widgets.Layout(width="40em"), {"description_width": "8em"}
        self.org = widgets.Dropdown(description="Organization", layout=wide, style=style)
        self.env = widgets.Dropdown(description="Environment", layout=wide, style=style)
        self.filter = widgets.Text(description="Filter", placeholder="name, state or id", layout=wide,
                                   style=style)
        self.resources = widgets.SelectMultiple(description=self.entity_type.capitalize(), rows=8,
                                                layout=wide, style=style)
        self.operation = widgets.Dropdown(description="Operation", layout=wide, style=style)
        self.body = widgets.Textarea(description="Body (JSON)", style=style,
                                     layout=widgets.Layout(width="40em", display="none"))
        self.summary = widgets.HTML()
        self.confirm = widgets.Checkbox(description="Yes, run this destructive operation",
                                        indent=False, layout=widgets.Layout(display="none"))
        self.run_button = widgets.Button(description="Run", button_style="primary", icon="play",
                                         disabled=True)
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh")
        self.progress_box = widgets.VBox()
        self.earlier = widgets.HTML(_earlier_text(self.client))  # tasks still running from before
        self.resume_button = widgets.Button(description="Show them", icon="history", layout=widgets.Layout(
            display=None if self.earlier.value else "none"))
        self.resume_button.on_click(self.guarded(self._on_resume))
        for control, handler in ((self.org, self._on_org), (self.env, self._on_env),
                                 (self.filter, self._on_env), (self.resources, self._on_selection),
                                 (self.operation, self._on_operation), (self.confirm, self._on_confirm)):
            self.on_change(control, handler)
        self.run_button.on_click(self.guarded(self._on_run))
        self.refresh_button.on_click(self.guarded(self._on_refresh))
        self.box = widgets.VBox([widgets.HBox([self.earlier, self.resume_button]),
                                 self.org, self.env, self.filter, self.resources, self.operation,
                                 self.body, self.summary, self.confirm,
                                 widgets.HBox([self.run_button, self.refresh_button]),
                                 self.progress_box, self.output])

    # -- cascading choices: each step fills the next control, then runs the next step ------------

    def _set_orgs(self) -> None:
        orgs = self.rows.drop_duplicates("organization_id")
        options = [(str(r.organization_path or r.organization_id), r.organization_id)
                   for r in orgs.itertuples(index=False)]
        set_options(self.org, options)
        self._on_org()

    def _on_org(self, _change: Any = None) -> None:
        envs = self.rows[self.rows["organization_id"] == self.org.value].drop_duplicates("environment_id")
        options = [(f"{r.environment_name} · {r.service_code}", r.environment_id)
                   for r in envs.itertuples(index=False)]
        set_options(self.env, options)
        self._on_env()

    def _on_env(self, _change: Any = None) -> None:
        rows = self._env_rows()
        needle = self.filter.value.strip().lower()
        if needle and not rows.empty:
            states = rows.apply(lambda r: state_text(r) or "?", axis=1)
            text = rows["name"].astype(str) + " " + states + " " + rows["id"]
            rows = rows[text.str.lower().str.contains(needle, regex=False)]
        set_options(self.resources, [(_label(r), r["id"]) for r in rows.to_dict("records")])
        self._on_selection()

    def _on_selection(self, _change: Any = None) -> None:
        env = self._env_rows()
        chosen = self.selected()
        fits = operations_for(_first(env, "connection_type"), self.entity_type,
                              chosen.to_dict("records") if len(chosen) else None)
        options = [(f"{s.name} (destructive)" if s.destructive else s.name, s.name) for s in fits]
        set_options(self.operation, options)
        self._on_operation()

    def _on_operation(self, _change: Any = None) -> None:
        spec = self._spec()
        self.confirm.value = False
        self.confirm.layout.display = "" if spec is not None and spec.destructive else "none"
        needs = spec.needs if spec is not None else ()
        self.body.layout.display = "" if needs else "none"
        self.body.placeholder = json.dumps(dict.fromkeys(needs, "")) if needs else ""
        self._on_confirm()

    def _on_confirm(self, _change: Any = None) -> None:
        spec, chosen = self._spec(), self.selected()
        self.summary.value = _summary(spec, chosen, self._where())
        unconfirmed = spec is not None and spec.destructive and not self.confirm.value
        blocked = self.running or spec is None or chosen.empty or unconfirmed
        self.run_button.disabled = blocked
        self.run_button.button_style = "danger" if spec is not None and spec.destructive else "primary"

    # -- running -------------------------------------------------------------------------------

    def _on_run(self, _button: Any = None) -> None:
        spec, chosen = self._spec(), self.selected()
        self.clear_output()
        if self.running:
            self.say("Tasks are still running; wait for them to end.")
            return
        if spec is None or chosen.empty:
            self.say("Pick at least one resource and an operation first.")
            return
        if spec.destructive and not self.confirm.value:
            self.say(f"{spec.name} is destructive: tick the confirmation box, then Run.")
            return
        body = self._body_value()
        targets = batch.targets_of(chosen, self.entity_type)
        batch.check_targets(targets, spec.name, body)
        self.running = True
        with self.muted():
            self._on_confirm()
        self.start_worker(lambda: self._run(targets, spec.name, body), "cmf-operation-form")

    def _run(self, targets: list[batch.Target], operation: str, body: dict | None) -> None:
        try:
            submitted = batch.submit_many(self.client, targets, operation, body=body,
                                          max_workers=self.max_workers)
            for target, sent in zip(targets, submitted, strict=True):
                if not isinstance(sent, Task):
                    self.show_error(sent, prefix=f"{operation} {target.label} refused: ")
            final = self._watch(targets, submitted)
            self.outcomes = batch.outcomes_frame(targets, operation, submitted, final)
            counts = self.outcomes["status"].value_counts()
            self.say(f"{operation}: " + ", ".join(f"{n} {status}" for status, n in counts.items()))
            self.show(self.outcomes[SHOWN].fillna(""))
            refused = any(not isinstance(sent, Task) for sent in submitted)
            self._reload(fresh=refused)  # a refused write invalidated nothing: its listing may be stale
        finally:
            self.running = False
            with self.muted():
                self._on_confirm()

    def _watch(self, targets: list, submitted: list) -> list:
        index = [i for i, sent in enumerate(submitted) if isinstance(sent, Task)]
        final = list(submitted)
        if not index:
            return final
        self.progress = TaskProgress(self.client, [submitted[i] for i in index],
                                     labels=[targets[i].label for i in index], start=False,
                                     timeout=self.timeout, interval=self.interval)
        self.progress_box.children = (self.progress.box,)
        for i, result in zip(index, self.progress.run(), strict=True):
            final[i] = result
        return final

    def _on_resume(self, _button: Any = None) -> None:
        """Poll the operations of earlier kernels again (``cmf.resume``) and show their bars."""
        self.resume_button.layout.display, self.earlier.value = "none", ""
        self.progress = TaskProgress(self.client, journal.resume(self.client), interval=self.interval,
                                     timeout=self.timeout, start=False)
        self.progress_box.children = (self.progress.box,)
        self.start_worker(self.progress.run, "cmf-operation-form-resume")

    def _on_refresh(self, _button: Any = None) -> None:
        self._reload(fresh=True)
        self.say(f"Reloaded {len(self.rows)} {self.entity_type}.")

    def _reload(self, fresh: bool) -> None:
        self.rows = read_rows(self.client, self.entity_type, source=self._source, fresh=fresh)
        with self.muted():
            self._set_orgs()

    # -- helpers -------------------------------------------------------------------------------

    def selected(self) -> pd.DataFrame:
        """The rows currently picked in ``resources``."""
        env = self._env_rows()
        return env[env["id"].isin(self.resources.value)]

    def _env_rows(self) -> pd.DataFrame:
        rows = self.rows
        return rows[(rows["organization_id"] == self.org.value) & (rows["environment_id"] == self.env.value)]

    def _spec(self):
        if not self.operation.value:
            return None
        return operation_spec(_first(self._env_rows(), "connection_type"), self.entity_type,
                              self.operation.value)

    def _where(self) -> str:
        env = self._env_rows()
        if env.empty:
            return ""
        org, name = _first(env, "organization_path"), _first(env, "environment_name")
        return f"{org} / {name} ({_first(env, 'service_code')})"

    def _body_value(self) -> dict | None:
        if self.body.layout.display == "none" or not self.body.value.strip():
            return None
        try:
            body = json.loads(self.body.value)
        except ValueError as exc:
            raise ConfigError(f"the body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise ConfigError("the body must be a JSON object, e.g. {\"computeOfferingId\": \"...\"}")
        return body


def _earlier_text(client: Client) -> str:
    """"N tasks still running from before: ..." from the operations journal (nothing is sent)."""
    running = journal.still_running(client)
    if not running:
        return ""
    names = ", ".join(html.escape(str(e.get("label") or e["operation"])) for e in running[:3])
    more = f" and {len(running) - 3} more" if len(running) > 3 else ""
    return (f"<b>{len(running)} task{'s' if len(running) > 1 else ''} still running from before</b> "
            f"({names}{more}): <code>cmf.resume(client)</code> polls them again")


def _label(row: dict) -> str:
    return f"{row.get('name') or '(no name)'}  [{state_text(row) or '?'}]  {str(row['id'])[:8]}"


def _first(frame: pd.DataFrame, column: str) -> Any:
    if frame.empty or column not in frame:
        return None
    value = frame[column].iloc[0]
    return None if pd.isna(value) else value


def _summary(spec: Any, chosen: pd.DataFrame, where: str) -> str:
    if chosen.empty:
        return "<i>Pick one or more resources.</i>"
    if spec is None:
        return "<i>No operation fits every selected resource; change the selection.</i>"
    names = ", ".join(html.escape(str(n)) for n in chosen["name"].head(10))
    more = f" and {len(chosen) - 10} more" if len(chosen) > 10 else ""
    text = f"<b>{html.escape(spec.name)}</b> {len(chosen)} resource(s) in {html.escape(where)}: {names}{more}"
    if spec.destructive:
        text += "<br><b style='color:#b00'>Destructive:</b> tick the box below to confirm."
    return text
