"""The audit's rule table and the contract a rule follows.

A rule is a plain function ``rule(data: AuditData) -> DataFrame | list[dict]``: one row per
finding with any of :data:`FINDING_COLUMNS` (``rule`` and ``severity`` are filled in when
missing). Register it with :func:`rule` and every later ``audit()`` runs it; or pass it to
``audit(rules=[...])`` for one run. Thresholds are keyword defaults, so
``functools.partial(old_snapshots, days=30)`` is a rule too.

Example::

    >>> from cloudmc_frames.reports import rule, finding
    >>> @rule(severity="low")                                          # doctest: +SKIP
    ... def huge_instances(data, vcpus=32):
    ...     '''Instances with at least ``vcpus`` vCPU.'''
    ...     big = data.instances[data.instances["vcpus"] >= vcpus]
    ...     return [finding(r, "instance", detail=f"{r.vcpus} vCPU", action="Right-size it.")
    ...             for r in big.itertuples()]
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..errors import ConfigError
from ..frames import none_for_missing

SEVERITIES = ("high", "medium", "low")
FINDING_COLUMNS = ("rule", "severity", "organization_path", "organization_id", "environment_name",
                   "subject_type", "subject_id", "subject", "detail", "suggested_action")

Rule = Callable[["AuditData"], "pd.DataFrame | list[dict]"]


@dataclass(frozen=True)
class AuditRule:
    """A rule to run: its name, default severity, function and one-line description."""

    name: str
    severity: str
    func: Rule

    @property
    def description(self) -> str:
        """The first line of the rule function's docstring."""
        doc = (getattr(_unwrap(self.func), "__doc__", None) or "").strip()
        line = doc.splitlines()[0] if doc else self.name
        if isinstance(self.func, functools.partial) and self.func.keywords:
            line += " [" + ", ".join(f"{k}={v!r}" for k, v in self.func.keywords.items()) + "]"
        return line


RULES: dict[str, AuditRule] = {}


@dataclass(frozen=True)
class AuditData:
    """Everything a rule may look at: frames from one crawl, the clock, and what failed.

    Frames: ``organizations`` (selected, deleted ones included), ``users``, ``environments``,
    ``members`` (environment members), ``instances`` (with ``state_class``), ``volumes``,
    ``snapshots``, ``public_ips``, ``quotas``, ``capacity`` (see :mod:`.capacity`), ``issues``.
    """

    now: pd.Timestamp
    organizations: pd.DataFrame
    users: pd.DataFrame
    environments: pd.DataFrame
    members: pd.DataFrame
    instances: pd.DataFrame
    volumes: pd.DataFrame
    snapshots: pd.DataFrame
    public_ips: pd.DataFrame
    quotas: pd.DataFrame
    capacity: pd.DataFrame
    issues: pd.DataFrame

    def unread(self, entity: str) -> set[str]:
        """Ids of organizations where ``entity`` (``"users"``, ``"environments"``, ...) could not be read.

        Rules about something *missing* (no users, no environments) skip these, so a failed
        read never turns into a false finding.
        """
        failed = self.issues[self.issues["entity"].astype(object) == entity]
        return {v for v in failed["organization_id"].astype(object) if isinstance(v, str)}

    def unread_members(self) -> set[tuple[str, str]]:
        """``(organization_id, environment_name)`` pairs whose members could not be read."""
        failed = self.issues[self.issues["entity"].astype(object) == "environment_members"]
        return set(zip(failed["organization_id"].astype(object), failed["environment"].astype(object)))

    def days_since(self, stamps: pd.Series) -> pd.Series:
        """Whole days from each timestamp to ``now`` (NA stays NA)."""
        return ((self.now - stamps).dt.total_seconds() // 86400).astype("Int64")


def rule(name: str | None = None, *, severity: str = "medium") -> Callable[[Rule], Rule]:
    """Decorator: add a rule to :data:`RULES` under ``name`` (default: the function's name)."""
    _check_severity(severity)

    def register(func: Rule) -> Rule:
        key = name or _unwrap(func).__name__
        RULES[key] = AuditRule(key, severity, func)
        return func

    return register


def finding(row: Any, subject_type: str, *, detail: str, action: str, subject: Any = None,
            subject_id: Any = None, environment_name: Any = None, severity: str | None = None) -> dict:
    """A finding dict from a frame row (``itertuples``) that has organization columns."""
    return {"organization_path": _get(row, "organization_path"),
            "organization_id": _get(row, "organization_id"),
            "environment_name": environment_name if environment_name is not None
            else _get(row, "environment_name"), "subject_type": subject_type,
            "subject_id": subject_id if subject_id is not None else _get(row, "id"),
            "subject": subject if subject is not None else _get(row, "name"),
            "detail": detail, "suggested_action": action, "severity": severity}


def resolve(rules: Iterable[Any] | None) -> list[AuditRule]:
    """The rules to run: every registered one (None), or the given names and functions."""
    if rules is None:
        return list(RULES.values())
    if isinstance(rules, str) or callable(rules):
        rules = [rules]
    chosen = []
    for item in rules:
        if isinstance(item, AuditRule):
            chosen.append(item)
        elif isinstance(item, str):
            if item not in RULES:
                raise ConfigError(f"no audit rule {item!r}; registered: {', '.join(RULES)}")
            chosen.append(RULES[item])
        elif callable(item):
            name = _unwrap(item).__name__
            known = RULES.get(name)
            chosen.append(AuditRule(name, known.severity if known else "medium", item))
        else:
            raise ConfigError(f"rules must be names or functions, got {item!r}")
    return chosen


def findings_frame(rows: list[dict]) -> pd.DataFrame:
    """Findings as a typed frame in :data:`FINDING_COLUMNS` order, most severe first."""
    frame = pd.DataFrame(rows, columns=list(FINDING_COLUMNS))
    typed = {name: none_for_missing(frame[name]).astype("string")
             for name in FINDING_COLUMNS}
    typed["rule"] = frame["rule"].astype("category")
    typed["subject_type"] = frame["subject_type"].astype("category")
    typed["severity"] = pd.Categorical(frame["severity"], categories=SEVERITIES, ordered=True)
    result = pd.DataFrame(typed, index=frame.index)
    keys = ["severity", "rule", "organization_path", "environment_name", "subject"]
    result = result.sort_values(keys, kind="stable", na_position="first")
    return result.reset_index(drop=True)


def _unwrap(func: Any) -> Any:
    while isinstance(func, functools.partial):
        func = func.func
    return func


def _get(row: Any, name: str) -> Any:
    value = getattr(row, name, None)
    return None if value is None or value is pd.NA or (isinstance(value, float) and value != value) else value


def _check_severity(severity: str) -> None:
    if severity not in SEVERITIES:
        raise ConfigError(f"severity must be one of {', '.join(SEVERITIES)}, got {severity!r}")
