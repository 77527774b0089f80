"""``CreateForm``: create an instance or a volume from choices read in the chosen environment.

Example::

    form = cmf.widgets.CreateForm(client, "volumes")   # last expression: the form renders
    # pick organization and environment, fill the fields, click Create

Fields are filled from the environment's zones, templates, compute and disk offerings,
networks (and instances, for a volume to attach); the body is checked before it is sent, and a
400 from CloudMC is shown next to the field it concerns.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets
import pandas as pd

from .. import operations
from ..client import Client
from ..errors import ConfigError, ValidationError
from ..frames import plain_records
from ..operation_catalog import attachable, check_create, create_spec, error_fields, extra_fields, in_zone
from ..tasks import DEFAULT_TIMEOUT, POLL_INITIAL, SUCCESS, Task
from ._base import FormBase, set_options
from .sources import creatable_environments, create_choices
from .task_progress import TaskProgress

LABELS = {"name": "Name", "zoneId": "Zone", "computeOfferingId": "Compute offering",
          "cpuCount": "vCPU", "memoryInMB": "Memory (MB)", "templateId": "Template",
          "networkId": "Network", "diskOfferingId": "Disk offering",
          "additionalDiskSizeInGb": "Data disk (GB)", "sizeInGb": "Size (GB)",
          "instanceId": "Attach to"}
FIELDS = {
    "instances": ("name", "zoneId", "computeOfferingId", "cpuCount", "memoryInMB", "templateId",
                  "networkId", "diskOfferingId", "additionalDiskSizeInGb"),
    "volumes": ("name", "zoneId", "diskOfferingId", "sizeInGb", "instanceId"),
}
TEXT_FIELDS = ("name",)
SIZE_FIELDS = ("sizeInGb", "additionalDiskSizeInGb")
ZONED = ("templateId", "networkId", "instanceId")  # choices narrowed by the zone picked
NONE = "(none)"


class CreateForm(FormBase):
    """Create one ``instances`` or ``volumes`` entity in an environment picked from the key's tree.

    ``fields[name]`` are the input widgets (keyed by CloudMC body field), ``errors[name]`` the
    message next to each; ``task`` and ``progress`` belong to the last create.
    """

    def __init__(self, client: Client, entity_type: str = "instances", *, orgs: Any = None,
                 timeout: float = DEFAULT_TIMEOUT, interval: float = POLL_INITIAL) -> None:
        super().__init__()
        if entity_type not in FIELDS:
            raise ConfigError(f"CreateForm creates {' or '.join(FIELDS)}, got {entity_type!r}")
        self.client, self.entity_type, self.timeout, self.interval = client, entity_type, timeout, interval
        self.envs = creatable_environments(client, entity_type, orgs=orgs)
        self.choices: dict[str, pd.DataFrame] = {}
        self.task: Task | None = None
        self.progress: TaskProgress | None = None
        self.running = False
        self._build_widgets()
        with self.muted():
            self._set_orgs()

    def __repr__(self) -> str:
        return f"<CreateForm {self.entity_type} in {len(self.envs)} environments>"

    # -- layout --------------------------------------------------------------------------------

    def _build_widgets(self) -> None:
        wide = widgets.Layout(width="30em")
        style = {"description_width": "10em"}
        self.org = widgets.Dropdown(description="Organization", layout=wide, style=style)
        self.env = widgets.Dropdown(description="Environment", layout=wide, style=style)
        self.fields: dict[str, widgets.Widget] = {}
        self.errors: dict[str, widgets.HTML] = {}
        rows = []
        for name in FIELDS[self.entity_type]:
            self.fields[name] = _control(name, wide, style)
            self.errors[name] = widgets.HTML()
            rows.append(widgets.HBox([self.fields[name], self.errors[name]]))
        self.form_error = widgets.HTML()
        self.create_button = widgets.Button(description="Create", button_style="primary", icon="plus")
        self.progress_box = widgets.VBox()
        self.on_change(self.org, self._on_org)
        self.on_change(self.env, self._on_env)
        self.on_change(self.fields["zoneId"], self._on_zone)
        for name in ("computeOfferingId", "diskOfferingId"):
            if name in self.fields:
                self.on_change(self.fields[name], self._on_offering)
        self.create_button.on_click(self.guarded(self._on_create))
        self.field_rows = dict(zip(FIELDS[self.entity_type], rows, strict=True))
        self.box = widgets.VBox([self.org, self.env, *rows, self.form_error, self.create_button,
                                 self.progress_box, self.output])

    # -- cascading choices: each step fills the next control, then runs the next step ------------

    def _set_orgs(self) -> None:
        orgs = self.envs.drop_duplicates("organization_id")
        set_options(self.org, [(str(r.organization_path or r.organization_id), r.organization_id)
                               for r in orgs.itertuples(index=False)])
        self._on_org()

    def _on_org(self, _change: Any = None) -> None:
        envs = self.envs[self.envs["organization_id"] == self.org.value]
        set_options(self.env, [(f"{r.name} · {r.service_code}", r.id) for r in envs.itertuples(index=False)])
        self._on_env()

    def _on_env(self, _change: Any = None) -> None:
        self._clear_errors()
        env = self._env()
        if env is None:
            self.choices = {}
        else:
            self.choices = create_choices(
                self.client, self.entity_type, org_id=env["organization_id"],
                service_code=env["service_code"], environment=env["name"],
                connection_type=env["connection_type"])
        set_options(self.fields["zoneId"], [("(any zone)", None)] + _options(self.choices.get("zoneId")))
        for name in ("computeOfferingId", "diskOfferingId"):
            if name in self.fields:
                optional = self.entity_type == "instances" and name == "diskOfferingId"
                set_options(self.fields[name], _options(self.choices.get(name), optional))
        self._on_zone()

    def _on_zone(self, _change: Any = None) -> None:
        zone = self.fields["zoneId"].value
        for name in ZONED:
            if name not in self.fields:
                continue
            frame = in_zone(self.choices.get(name), zone)
            if name == "instanceId":
                frame = attachable(frame)
            set_options(self.fields[name], _options(frame, optional=name == "instanceId"))
        self._on_offering()

    def _on_offering(self, _change: Any = None) -> None:
        extra = extra_fields(self.entity_type, self.body(), self.choices)
        for name in ("cpuCount", "memoryInMB", *SIZE_FIELDS):
            if name not in self.fields:
                continue
            self.field_rows[name].layout.display = "" if name in extra else "none"
            if isinstance(self.fields[name], widgets.Dropdown):
                set_options(self.fields[name], [(str(v), v) for v in extra.get(name) or []])

    # -- creating ------------------------------------------------------------------------------

    def body(self) -> dict[str, Any]:
        """The create body the form would send now (filters and hidden or empty fields left out)."""
        spec = create_spec(self._env_value("connection_type"), self.entity_type)
        skip = set(spec.filters) if spec else {"zoneId"}
        body = {}
        for name, control in self.fields.items():
            if name in skip or self.field_rows[name].layout.display == "none":
                continue
            value = control.value.strip() if isinstance(control.value, str) else control.value
            if value not in (None, ""):
                body[name] = value
        return body

    def _on_create(self, _button: Any = None) -> None:
        self.clear_output()
        self._clear_errors()
        if self.running:
            self.say("A create is still running; wait for it to end.")
            return
        env = self._env()
        if env is None:
            self.form_error.value = _error_html("Pick an organization and an environment first.")
            return
        body = self.body()
        problems = check_create(env["connection_type"], self.entity_type, body, self.choices)
        if problems:
            self._show_field_errors(problems)
            self.say("Fix the fields marked in red, then Create again.")
            return
        self.running = True
        self.create_button.disabled = True
        self.start_worker(lambda: self._create(env, body), "cmf-create-form")

    def _create(self, env: dict, body: dict) -> None:
        try:
            try:
                self.task = operations.create(self.client, env["service_code"], env["name"],
                                              self.entity_type, body, org_id=env["organization_id"])
            except ValidationError as error:
                self._show_field_errors(error_fields(error, body) or {"": error.message})
                self.show_error(error, prefix="CloudMC refused the create: ")
                return
            self.progress = TaskProgress(self.client, [self.task], labels=[body.get("name", "new")],
                                         start=False, timeout=self.timeout, interval=self.interval)
            self.progress_box.children = (self.progress.box,)
            final = self.progress.run()[0]
            if isinstance(final, Task) and final.status == SUCCESS:
                self.say(f"Created {self.entity_type[:-1]} {body.get('name')!r}.")
        finally:
            self.running = False
            self.create_button.disabled = False

    # -- helpers -------------------------------------------------------------------------------

    def _env(self) -> dict | None:
        rows = self.envs[self.envs["id"] == self.env.value]
        if rows.empty:
            return None
        return plain_records(rows)[0]

    def _env_value(self, column: str) -> Any:
        env = self._env()
        return None if env is None else env.get(column)

    def _clear_errors(self) -> None:
        for label in self.errors.values():
            label.value = ""
        self.form_error.value = ""

    def _show_field_errors(self, problems: dict[str, str]) -> None:
        for name, message in problems.items():
            target = self.errors.get(name)
            if target is not None and self.field_rows[name].layout.display != "none":
                target.value = _error_html(message)
            else:
                label = LABELS.get(name, name)
                self.form_error.value += _error_html(f"{label}: {message}" if name else message)


def _control(name: str, layout: widgets.Layout, style: dict) -> widgets.Widget:
    kw = {"description": LABELS[name], "layout": layout, "style": style}
    if name in TEXT_FIELDS:
        return widgets.Text(placeholder="required", **kw)
    if name in SIZE_FIELDS:
        return widgets.BoundedIntText(value=0, min=0, max=65536, **kw)
    return widgets.Dropdown(options=[], **kw)


def _options(frame: pd.DataFrame | None, optional: bool = False) -> list[tuple[str, Any]]:
    head = [(NONE, None)] if optional else []
    if frame is None or frame.empty:
        return head
    labels = frame["name"].astype(object).where(frame["name"].notna(), frame["id"])
    if "zone_name" in frame:
        zones = frame["zone_name"].astype(object)
        labels = [f"{n} ({z})" if isinstance(z, str) else str(n) for n, z in zip(labels, zones, strict=True)]
    return head + [(str(label), str(i)) for label, i in zip(labels, frame["id"], strict=True)]


def _error_html(message: str) -> str:
    return f"<span style='color:#b00'>{html.escape(message)}</span>"
