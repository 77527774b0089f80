"""What a report could not read, and what that makes of each figure: complete, partial, not evaluated.

Design note (every report builder follows it, built-in or added later):

* **Inputs** are named by the coverage ``entity`` of the scopes that read them: ``users``,
  ``environments``, ``environment_members``, ``quotas``, ``instances``, ``volumes``,
  ``snapshots``, ``publicipaddresses``, or whatever entity a new accessor records. A scope is
  read when its coverage status is one of :data:`READ_STATUSES`; any other status (forbidden,
  not_found, error, skipped, not_cached, ...) leaves it unread.
* Entities read per environment (:data:`PER_ENVIRONMENT`, plus any entity whose coverage rows
  name an environment) are unread too in an organization whose environments could not be read:
  nobody knows what its environments hold.
* A **figure** (an audit rule, a total, a row) declares the inputs it needs.
  :meth:`Completeness.status` says, over the report's selection, ``complete``; ``partial`` when
  an input is unreadable in some organizations (``partial: users unreadable in 3 of 20
  organizations``); ``not evaluated`` when an input is unreadable in every organization it was
  read for (``not evaluated: users unreadable in 20 of 20 organizations``). A count from
  partial inputs is a lower bound and says so; a not evaluated one is ``<NA>``, never 0.
* **Rows**: :meth:`Completeness.mark` adds :data:`COLUMNS` (``completeness``, ``unread``) to a
  frame whose rows belong to organizations (and maybe environments or service connections), and
  blanks (``<NA>``) a measure whose input was read nowhere in that row.
* **Renderings** print ``completeness`` and ``unread`` next to the figures, the banner lists the
  figures that are not complete, and charts hatch partial bars and write "not evaluated" where
  a bar would be (:func:`.figures.hbars` ``states=``).

Example::

    >>> cover = pd.DataFrame({"organization_id": ["o1", "o2"], "environment": [None, None],
    ...                       "entity": ["users", "users"], "status": ["ok", "error"]})
    >>> Completeness(cover).status(["users"])
    Status(state='partial', unread='users unreadable in 1 of 2 organizations')
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

import pandas as pd

STATES = ("complete", "partial", "not evaluated")
READ_STATUSES = frozenset({"ok", "empty"})
PER_ENVIRONMENT = frozenset({"instances", "volumes", "snapshots", "publicipaddresses",
                             "environment_members"})
LABELS = {"publicipaddresses": "public IPs", "environment_members": "environment members"}
COLUMNS = ("completeness", "unread")


class Status(NamedTuple):
    """How complete one figure is: ``state`` (one of :data:`STATES`) and why, in words."""

    state: str
    unread: str

    @property
    def text(self) -> str:
        """``"complete"``, or ``"partial: users unreadable in 3 of 20 organizations"``."""
        return self.state if self.state == "complete" else f"{self.state}: {self.unread}"


COMPLETE = Status("complete", "")


class _Scope(NamedTuple):
    organization_id: str | None
    environment: str | None
    entity: str
    read: bool


class Completeness:
    """The scopes one report read and failed to read, queried per input and per row.

    ``coverage``: the report's coverage rows (``organization_id``, ``environment``, ``entity``,
    ``status``); ``connections``: optional ``{(organization_id, environment name): service_code}``
    so rows keyed by service connection can be matched.
    """

    def __init__(self, coverage: pd.DataFrame,
                 connections: Mapping[tuple[str, str], str] | None = None) -> None:
        columns = [coverage[c].astype(object) for c in ("organization_id", "environment", "entity", "status")]
        self._scopes = [_Scope(_text(o), _text(e), str(n), str(s) in READ_STATUSES)
                        for o, e, n, s in zip(*columns, strict=True) if isinstance(n, str)]
        self._connections = dict(connections or {})
        self._per_env = PER_ENVIRONMENT | {s.entity for s in self._scopes if s.environment is not None}
        self._by_org: dict[str | None, list[_Scope]] = defaultdict(list)
        for scope in self._scopes:
            self._by_org[scope.organization_id].append(scope)

    @property
    def complete(self) -> bool:
        """True when every scope was read."""
        return all(s.read for s in self._scopes)

    def unread_orgs(self, entity: str) -> set[str]:
        """Organizations where ``entity`` could not be read (fully or in some environment)."""
        failed = {s.organization_id for s in self._scopes if s.entity == entity and not s.read}
        if entity in self._per_env and entity != "environments":
            failed |= self.unread_orgs("environments")
        return {o for o in failed if o is not None}

    def read_orgs(self, entity: str) -> set[str]:
        """Organizations ``entity`` was read for or meant to be (its scopes, read or not)."""
        tried = {s.organization_id for s in self._scopes if s.entity == entity}
        return {o for o in tried if o is not None} | self.unread_orgs(entity)

    def status(self, needs: Iterable[str]) -> Status:
        """The state of a figure that needs ``needs`` over the whole selection."""
        worst, reasons = 0, []
        for entity in dict.fromkeys(needs):
            unread, tried = self.unread_orgs(entity), self.read_orgs(entity)
            if not unread:
                continue
            worst = max(worst, 2 if unread >= tried else 1)
            reasons.append(f"{label(entity)} unreadable in {len(unread)} of {len(tried)} "
                           f"organization{'s' if len(tried) != 1 else ''}")
        return Status(STATES[worst], "; ".join(reasons)) if reasons else COMPLETE

    def mark(self, frame: pd.DataFrame, measures: Mapping[str, Sequence[str]]) -> pd.DataFrame:
        """``frame`` with :data:`COLUMNS` added and the measures read nowhere in a row set to NA.

        ``measures`` maps each measure column to the inputs it needs. Rows are matched to scopes
        by the key columns they have: ``organization_id``, ``environment_name``, ``service_code``.
        """
        result = frame.copy()
        entities = list(dict.fromkeys(e for needs in measures.values() for e in needs))
        states, notes = [], []
        for index, row in enumerate(self._row_keys(frame)):
            seen = {e: self._seen(row, e) for e in entities}  # entity -> (read somewhere, failed somewhere)
            for measure, needs in measures.items():
                if any(seen[e][1] and not seen[e][0] for e in needs):
                    result.iloc[index, result.columns.get_loc(measure)] = pd.NA
            failed = [e for e in entities if seen[e][1]]
            blind = failed and not any(read for read, _ in seen.values())
            states.append(STATES[2] if blind else STATES[1] if failed else STATES[0])
            notes.append(", ".join(label(e) for e in failed) or None)
        result["completeness"] = pd.Categorical(states, categories=STATES)
        result["unread"] = pd.array(notes, dtype="string")
        return result

    def _row_keys(self, frame: pd.DataFrame) -> list[dict[str, str | None]]:
        keys = [k for k in ("organization_id", "environment_name", "service_code") if k in frame]
        columns = [frame[k].astype(object).tolist() for k in keys]
        return [dict(zip(keys, map(_text, values), strict=True)) for values in zip(*columns, strict=True)] \
            if keys else [{} for _ in range(len(frame))]

    def _seen(self, row: dict[str, str | None], entity: str) -> tuple[bool, bool]:
        """Whether ``entity`` was read in some scope of the row, and whether it failed in some."""
        pool = self._by_org.get(row["organization_id"], []) if "organization_id" in row else self._scopes
        read = failed = False
        below = entity in self._per_env and entity != "environments"
        for scope in pool:
            if scope.entity == entity and self._matches(row, scope):
                read, failed = read or scope.read, failed or not scope.read
            elif below and scope.entity == "environments" and not scope.read:
                failed = True  # the organization's environments are unknown, so is what they hold
        return read, failed

    def _matches(self, row: dict[str, str | None], scope: _Scope) -> bool:
        if scope.environment is None:
            return True
        if "environment_name" in row and row["environment_name"] != scope.environment:
            return False
        code = self._connections.get((scope.organization_id, scope.environment))
        return not ("service_code" in row and code is not None and row["service_code"] != code)


def label(entity: str) -> str:
    """How an input is named in reports: ``publicipaddresses`` -> ``public IPs``."""
    return LABELS.get(entity, entity.replace("_", " "))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
