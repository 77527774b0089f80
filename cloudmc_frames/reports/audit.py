"""``audit(client)``: findings about users, organizations, environments, resources and quotas.

One crawl gathers the frames a rule may need (:class:`~.registry.AuditData`), then every rule
of :data:`~.rules.RULES` (a :class:`~.registry.RuleRegistry` built with the built-in rules;
:func:`~.rules.rule` adds one) runs over them. A finding is
one row: ``rule``, ``severity``, ``organization_path``, the user or resource (``subject_type``,
``subject_id``, ``subject``), ``detail``, ``suggested_action`` and ``completeness``. Two rules look
along the time axis: ``idle_running_instances`` (the last 14 days of hourly CPU) and
``unused_commitments`` (commitments against their pricing reports); their metrics, commitments
and pricing reports are read only when one of them runs.

A rule whose inputs could not be read (its ``needs``, see :mod:`.completeness`) is not run and
is reported *not evaluated* (``not evaluated: users unreadable in 20 of 20 organizations``); one
whose inputs were read in only some organizations is *partial* and its findings say so. Either
way the rule gets one row with ``subject_type`` ``"rule"`` that says why (those rows are not
findings: ``summary`` counts leave them out), its summary row has the same ``completeness`` and
``unread``, and the chart hatches or names it.

Example::

    >>> report = cmf.reports.audit(client)                                  # doctest: +SKIP
    >>> report.summary                          # findings per rule
    >>> report.frame.query("severity == 'high'")
    >>> cmf.reports.audit(client, rules=["users_without_2fa", my_rule])
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

import pandas as pd
from matplotlib.axes import Axes

from .. import accessors
from .. import usage as time_axis
from ..client import Client
from ..errors import ConfigError
from ..frames import utc_timestamp
from . import figures
from . import rules as rules_module
from .capacity import capacity_frame
from .commitments import commitment_use, past_windows, use_frame
from .completeness import STATES, Status
from .inventory import state_class
from .registry import (
    FINDING_COLUMNS,
    SEVERITIES,
    AuditData,
    AuditRule,
    findings_frame,
    status_row,
)
from .report import Report
from .sources import Crawl
from .utilization import utilization_frame

EMPTY_SERIES = pd.DataFrame({"entity_id": pd.array([], dtype="string"),
                             "value": pd.array([], dtype="Float64")})
EMPTY_COMMITMENTS = pd.DataFrame({c: pd.array([], dtype="string") for c in (
    "organization_path", "organization_id", "commitment_id", "commitment_name", "status", "pricing_method",
    "sku")} | {"committed_amount": pd.array([], dtype="Float64"),
               "start_date": pd.array([], dtype="datetime64[ns, UTC]"),
               "end_date": pd.array([], dtype="datetime64[ns, UTC]")})
VIEW = ("severity", "rule", "organization_path", "environment_name", "subject_type", "subject",
        "detail", "suggested_action", "completeness")


def audit(client: Client, orgs: Any = None, *, rules: Any = None, now: Any = None,
          **crawl: Any) -> Report:
    """Run audit rules over the selected organizations (deleted ones included) as a :class:`Report`.

    ``rules``: None (every registered rule), or names and functions; ``now``: the clock for
    ages (default: the current UTC time); ``crawl``: ``fresh``, ``max_workers``, ``progress``,
    ``timeout``.

    >>> cmf.reports.audit(client, orgs="nimbus-cloud/acme-corp*", rules=["old_snapshots"])  # doctest: +SKIP
    """
    chosen = rules_module.RULES.resolve(rules)
    source = Crawl(client, orgs, crawl, include_deleted=True)
    data = gather(source, utc_now(now), needs={n for r in chosen for n in r.inputs})
    states = {r.name: data.completeness.status(r.inputs) for r in chosen}
    frame = findings_frame([row for r in chosen for row in evaluate(r, data, states[r.name])])
    return Report(
        name="audit", title="CloudMC organization audit", frame=frame,
        summary=summary(frame, chosen, states), issues=data.issues, coverage=source.coverage(),
        plotter=plot_audit, notes=_notes(data.now), views={"frame": VIEW},
        scope=source.scope_text(), groups="rule")


def gather(source: Crawl, now: pd.Timestamp, needs: Iterable[str] = ()) -> AuditData:
    """Read every frame the rules look at, through the accessors, in one crawl.

    Metrics (``"metrics"``) and commitments with their pricing reports (``"commitments"``,
    ``"pricing"``) are read only when ``needs`` holds them.
    """
    needs = set(needs)
    envs = source.read(accessors.environments)
    live_orgs = set(source.orgs.loc[~source.orgs["deleted"].fillna(False).astype(bool), "id"])
    vms = source.read(accessors.instances)
    vols = source.read(accessors.volumes)
    quotas = source.read(accessors.quotas)
    users, members = source.read(accessors.users), source.members(sorted(live_orgs))
    snaps = source.read(accessors.resources, "snapshots")
    ips = source.read(accessors.resources, "publicipaddresses")
    util, blind = utilization_of(source, vms, now) if "metrics" in needs else (utilization_frame(
        vms.iloc[:0], EMPTY_SERIES), None)
    use = commitment_use(source.client, source.read(time_axis.commitments), now=now,
                         crawl=source.options.as_kwargs()) if needs & {"commitments", "pricing"} else \
        use_frame(past_windows(EMPTY_COMMITMENTS, now), [])
    return AuditData(
        now=now, organizations=source.orgs, users=users, environments=envs, members=members,
        instances=vms.assign(state_class=state_class(vms["power_state"], vms["connection_type"])),
        volumes=vols, snapshots=snaps, public_ips=ips, quotas=quotas,
        capacity=capacity_frame(quotas, vms, vols, completeness=source.completeness(envs)),
        issues=source.issues(), completeness=source.completeness(envs, also=blind),
        utilization=util, commitment_use=use)


def utilization_of(source: Crawl, instances: pd.DataFrame, now: pd.Timestamp
                   ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Hourly CPU percentiles per running instance over the :data:`~.rules.IDLE_DAYS` before
    ``now``, and coverage rows saying metrics were unread everywhere when no descriptor named the
    metric (its plugin descriptors could not be read; their issue rows say why)."""
    end = now.floor("h")
    read = partial(time_axis.metrics, start=end - pd.Timedelta(days=rules_module.IDLE_DAYS), end=end,
                   bucket="1h")
    try:
        series = source.read(read, rules_module.IDLE_METRIC)
    except ConfigError:
        live = source.orgs[~source.orgs["deleted"].fillna(False).astype(bool)]
        return utilization_frame(instances.iloc[:0], EMPTY_SERIES), pd.DataFrame(
            {"organization_id": live["id"].astype(object), "environment": None, "entity": "metrics",
             "status": "error"})
    return utilization_frame(instances, series), None


def evaluate(rule: AuditRule, data: AuditData, status: Status) -> list[dict]:
    """A rule's rows: its findings marked with ``status``, after a row saying why when it is not
    complete; a rule not evaluated does not run."""
    head = [] if status.state == STATES[0] else [status_row(rule, status)]
    if status.state == STATES[2]:
        return head
    return head + [{**row, "completeness": status.state} for row in run_rule(rule, data)]


def run_rule(rule: AuditRule, data: AuditData) -> list[dict]:
    """One rule's findings as dicts with ``rule`` and ``severity`` filled in."""
    found = rule.func(data)
    rows = found.to_dict("records") if isinstance(found, pd.DataFrame) else list(found or ())
    out = []
    for row in rows:
        if not isinstance(row, dict):
            raise ConfigError(f"audit rule {rule.name!r} must return dicts or a DataFrame, got {row!r}")
        item = {name: row.get(name) for name in FINDING_COLUMNS}
        item["rule"] = item["rule"] or rule.name
        item["severity"] = item["severity"] or rule.severity
        if item["severity"] not in SEVERITIES:
            raise ConfigError(f"audit rule {rule.name!r} gave severity {item['severity']!r}; "
                              f"use one of {', '.join(SEVERITIES)}")
        out.append(item)
    return out


def summary(frame: pd.DataFrame, chosen: list[AuditRule], states: dict[str, Status]) -> pd.DataFrame:
    """Per rule that ran: completeness, findings (none counted when not evaluated) by severity,
    what could not be read, and the rule's description."""
    found = frame[frame["subject_type"].astype(object) != "rule"]
    counts = found.groupby(["rule", "severity"], observed=True).size()
    rows = []
    for rule in chosen:
        status = states[rule.name]
        per = {s: int(counts.get((rule.name, s), 0)) for s in SEVERITIES}
        if status.state == STATES[2]:
            per = dict.fromkeys(SEVERITIES)
        total = None if status.state == STATES[2] else sum(per.values())
        rows.append({"rule": rule.name, "completeness": status.state, "findings": total, **per,
                     "unread": status.unread or None, "description": rule.description})
    table = pd.DataFrame(rows, columns=["rule", "completeness", "findings", *SEVERITIES, "unread",
                                        "description"])
    return table.astype({"rule": "string", "completeness": pd.CategoricalDtype(STATES),
                         "findings": "Int64", **dict.fromkeys(SEVERITIES, "Int64"),
                         "unread": "string", "description": "string"})


def utc_now(now: Any) -> pd.Timestamp:
    """``now`` as a UTC Timestamp (naive values are UTC); None is the current time."""
    return pd.Timestamp.now(tz="UTC") if now is None else utc_timestamp("now", now)


def _notes(now: pd.Timestamp) -> tuple[str, ...]:
    return (f"Ages are counted in whole days up to {now:%Y-%m-%d %H:%M} UTC.",
            "Rules about something missing (no users, no members) skip organizations whose data "
            "could not be read; see Issues.",
            "CloudStack reports no stop time: stopped instances without one are listed with "
            "'CloudMC does not report since when'. Snapshot ages come from a date field or the "
            "name's _YYYYMMDDhhmmss suffix.")


def plot_audit(report: Report, ax: Axes) -> None:
    """Findings per rule, stacked by severity; partial rules hatched, rules not evaluated named."""
    table = report.summary[(report.summary["findings"].fillna(0) > 0)
                           | (report.summary["completeness"] != STATES[0])]
    table = table.assign(_n=table["findings"].astype("Float64").fillna(float("inf"))).sort_values(
        ["_n", "rule"], ascending=[False, True], kind="stable")
    stacks = {s: table[s].fillna(0).astype(int).to_numpy() for s in SEVERITIES}
    figures.hbars(ax, list(table["rule"]), stacks, title="Audit findings per rule",
                  xlabel="findings [count]", ylabel="rule", states=list(table["completeness"].astype(str)))
