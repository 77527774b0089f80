"""The audit's rule registry and the contract a rule follows.

A rule is a plain function ``rule(data: AuditData) -> DataFrame | list[dict]``: one row per
finding with any of :data:`FINDING_COLUMNS` (``rule`` and ``severity`` are filled in when
missing). It declares the inputs it reads (``needs``: coverage entities such as ``"users"`` or
``"instances"``; None means every input of :data:`AUDIT_INPUTS`): when one of them could not be
read anywhere the rule is *not evaluated* (it does not run), when it could not be read in some
organizations its findings are *partial* (see :mod:`.completeness`). A :class:`RuleRegistry`
holds the rules an audit runs by default; it is built with
the rules passed in (``cmf.reports.RULES`` starts with :data:`.rules.BUILTIN_RULES`), and
``@cmf.reports.rule(...)`` adds one for every later ``audit()``; or pass a rule to
``audit(rules=[...])`` for one run. Thresholds are keyword defaults, so
``functools.partial(old_snapshots, days=30)`` is a rule too.

Example::

    >>> from cloudmc_frames.reports import rule, finding
    >>> @rule(severity="low", needs=("instances",))                    # doctest: +SKIP
    ... def huge_instances(data, vcpus=32):
    ...     '''Instances with at least ``vcpus`` vCPU.'''
    ...     big = data.instances[data.instances["vcpus"] >= vcpus]
    ...     return [finding(r, "instance", detail=f"{r.vcpus} vCPU", action="Right-size it.")
    ...             for r in big.itertuples()]
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..errors import ConfigError
from ..frames import none_for_missing
from .completeness import STATES, Completeness, Status

SEVERITIES = ("high", "medium", "low")
FINDING_COLUMNS = ("rule", "severity", "organization_path", "organization_id", "environment_name",
                   "subject_type", "subject_id", "subject", "detail", "suggested_action")
FRAME_COLUMNS = (*FINDING_COLUMNS, "completeness")  # the audit's frame: findings, then how complete
AUDIT_INPUTS = ("users", "environments", "environment_members", "instances", "volumes", "snapshots",
                "publicipaddresses", "quotas")

Rule = Callable[["AuditData"], "pd.DataFrame | list[dict]"]


@dataclass(frozen=True)
class AuditRule:
    """A rule to run: its name, default severity, function, the inputs it needs, a description.

    ``needs``: coverage entities the rule reads (None: every one of :data:`AUDIT_INPUTS`).
    """

    name: str
    severity: str
    func: Rule
    needs: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        _check_severity(self.severity)
        if self.needs is not None and (isinstance(self.needs, str)
                                       or not all(isinstance(n, str) for n in self.needs)):
            raise ConfigError(f"needs must be a tuple of input names such as ('users',), got {self.needs!r}")

    @classmethod
    def of(cls, func: Rule, severity: str = "medium", *, name: str | None = None,
           needs: tuple[str, ...] | None = None) -> AuditRule:
        """A rule named after its function (a partial's underlying one) unless ``name`` is given."""
        return cls(name or _unwrap(func).__name__, severity, func, None if needs is None else tuple(needs))

    @property
    def inputs(self) -> tuple[str, ...]:
        """The inputs whose completeness decides the rule's: ``needs``, or every audit input."""
        return AUDIT_INPUTS if self.needs is None else self.needs

    @property
    def description(self) -> str:
        """The first line of the rule function's docstring."""
        doc = (getattr(_unwrap(self.func), "__doc__", None) or "").strip()
        line = doc.splitlines()[0] if doc else self.name
        if isinstance(self.func, functools.partial) and self.func.keywords:
            line += " [" + ", ".join(f"{k}={v!r}" for k, v in self.func.keywords.items()) + "]"
        return line


class RuleRegistry(Mapping[str, AuditRule]):
    """The rules an audit runs when none are chosen: name -> :class:`AuditRule`, in order added.

    >>> registry = RuleRegistry([AuditRule.of(lambda data: [], "low", name="nothing")])
    >>> list(registry), registry["nothing"].severity
    (['nothing'], 'low')
    """

    def __init__(self, rules: Iterable[AuditRule] = ()) -> None:
        self._rules: dict[str, AuditRule] = {}
        for item in rules:
            self.add(item)

    def __getitem__(self, name: str) -> AuditRule:
        return self._rules[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._rules)

    def __len__(self) -> int:
        return len(self._rules)

    def __repr__(self) -> str:
        return f"<RuleRegistry {', '.join(self._rules)}>"

    def add(self, rule: AuditRule) -> AuditRule:
        """Add (or replace) ``rule`` under its name."""
        self._rules[rule.name] = rule
        return rule

    def copy(self) -> RuleRegistry:
        """A registry holding the same rules, to add to without touching this one."""
        return RuleRegistry(self._rules.values())

    def rule(self, name: str | None = None, *, severity: str = "medium",
             needs: tuple[str, ...] | None = None) -> Callable[[Rule], Rule]:
        """Decorator: add the function under ``name`` (default: its own name); returns it unchanged.

        ``needs``: the inputs it reads (see :class:`AuditRule`).
        """
        _check_severity(severity)

        def register(func: Rule) -> Rule:
            self.add(AuditRule.of(func, severity, name=name, needs=needs))
            return func

        return register

    def resolve(self, rules: Iterable[Any] | None) -> list[AuditRule]:
        """The rules to run: every one of this registry (None), or the given names and functions.

        A function registered here under its name keeps its registered severity and needs.
        """
        if rules is None:
            return list(self._rules.values())
        if isinstance(rules, str) or callable(rules):
            rules = [rules]
        return [self._one(item) for item in rules]

    def _one(self, item: Any) -> AuditRule:
        if isinstance(item, AuditRule):
            return item
        if isinstance(item, str):
            if item not in self._rules:
                raise ConfigError(f"no audit rule {item!r}; registered: {', '.join(self._rules)}")
            return self._rules[item]
        if callable(item):
            known = self._rules.get(_unwrap(item).__name__)
            return AuditRule.of(item, known.severity if known else "medium",
                                needs=known.needs if known else None)
        raise ConfigError(f"rules must be names or functions, got {item!r}")


@dataclass(frozen=True)
class AuditData:
    """Everything a rule may look at: frames from one crawl, the clock, and what failed.

    Frames: ``organizations`` (selected, deleted ones included), ``users``, ``environments``,
    ``members`` (environment members), ``instances`` (with ``state_class``), ``volumes``,
    ``snapshots``, ``public_ips``, ``quotas``, ``capacity`` (see :mod:`.capacity`), ``issues``;
    ``completeness``: what could not be read (:class:`~.completeness.Completeness`). Read only
    when a chosen rule needs them: ``utilization`` (``"metrics"``: per running instance, hourly
    CPU p50/p95/max over the audit's window, see :mod:`.utilization`) and ``commitment_use``
    (``"commitments"``/``"pricing"``: committed against actual, see :mod:`.commitments`).
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
    completeness: Completeness
    utilization: pd.DataFrame = field(default_factory=pd.DataFrame)
    commitment_use: pd.DataFrame = field(default_factory=pd.DataFrame)

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
        return set(zip(failed["organization_id"].astype(object), failed["environment"].astype(object),
                       strict=True))

    def days_since(self, stamps: pd.Series) -> pd.Series:
        """Whole days from each timestamp to ``now`` (NA stays NA)."""
        return ((self.now - stamps).dt.total_seconds() // 86400).astype("Int64")


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


def status_row(rule: AuditRule, status: Status) -> dict:
    """The row that says a rule was not evaluated, or only partly (``subject_type`` ``"rule"``)."""
    return {"rule": rule.name, "severity": None, "subject_type": "rule", "subject": rule.name,
            "detail": status.text, "completeness": status.state,
            "suggested_action": "See Issues for what could not be read and why; fix it (key, "
                                "network, CloudMC) and run the audit again."}


def findings_frame(rows: list[dict]) -> pd.DataFrame:
    """Findings as a typed frame in :data:`FRAME_COLUMNS` order: rules not (fully) evaluated
    first, then the most severe findings."""
    frame = pd.DataFrame(rows, columns=list(FRAME_COLUMNS))
    typed = {name: none_for_missing(frame[name]).astype("string")
             for name in FRAME_COLUMNS}
    typed["rule"] = frame["rule"].astype("category")
    typed["subject_type"] = frame["subject_type"].astype("category")
    typed["severity"] = pd.Categorical(frame["severity"], categories=SEVERITIES, ordered=True)
    typed["completeness"] = pd.Categorical(frame["completeness"].fillna(STATES[0]), categories=STATES)
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
