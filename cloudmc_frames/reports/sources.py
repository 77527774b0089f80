"""Where reports get their frames: the accessors, plus the issues and coverage of one report.

A :class:`Crawl` remembers how far the client's ledger had grown when a report started, so
the report's ``issues`` and ``coverage`` hold only the rows its own accessor calls added.

Example::

    >>> crawl = Crawl(client, orgs="acme/*", options={"progress": False})   # doctest: +SKIP
    >>> vms = crawl.read(accessors.instances)
    >>> crawl.issues(), crawl.coverage()
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from .. import accessors
from ..client import Client
from ..errors import ConfigError
from ..fanout import check_client
from ..frames import coverage_frame, issues_frame
from ..orgtree import select_organizations

CRAWL_OPTIONS = ("max_workers", "progress", "fresh", "timeout")


class Crawl:
    """The accessor calls behind one report, over one selection of organizations."""

    def __init__(self, client: Client, orgs: Any = None, options: dict | None = None, *,
                 include_deleted: bool = False) -> None:
        check_client(client)
        self.client = client
        self.options = dict(options or {})
        unknown = set(self.options) - set(CRAWL_OPTIONS)
        if unknown:
            raise ConfigError(f"unknown option(s) {', '.join(sorted(unknown))}: "
                              f"reports take orgs= and {', '.join(o + '=' for o in CRAWL_OPTIONS)}")
        issues, coverage = client.ledger.snapshot()
        self._start = (len(issues), len(coverage))
        self.tree = accessors.organizations(client, include_deleted=True,
                                            fresh=bool(self.options.get("fresh")))
        self.orgs = self._selection(orgs, include_deleted)
        self._which = ("every visible organization" if orgs is None else f"orgs={orgs!r}"
                       if isinstance(orgs, str | list) else f"orgs from a {type(orgs).__name__}")

    def _selection(self, orgs: Any, include_deleted: bool) -> pd.DataFrame:
        if orgs is None and include_deleted:
            return self.tree
        return select_organizations(self.tree, orgs)

    def read(self, accessor: Callable[..., pd.DataFrame], *args: Any) -> pd.DataFrame:
        """``accessor(client, *args, orgs=<selection>, **options)``."""
        return accessor(self.client, *args, orgs=self.orgs, **self.options)

    def members(self, orgs: Any) -> pd.DataFrame:
        """Members of each live environment of ``orgs`` (ids), one row per binding."""
        return accessors.environment_members(self.client, orgs=orgs, **self.options)

    def issues(self) -> pd.DataFrame:
        """Issues added since this crawl started."""
        return issues_frame(self.client.ledger.snapshot()[0][self._start[0]:])

    def coverage(self) -> pd.DataFrame:
        """Coverage rows added since this crawl started."""
        return coverage_frame(self.client.ledger.snapshot()[1][self._start[1]:])

    def scope_text(self) -> str:
        """The selection in words, e.g. ``18 organizations (orgs='acme/*')``."""
        count = len(self.orgs)
        deleted = int(self.orgs["deleted"].fillna(False).sum())
        extra = f", {deleted} of them deleted" if deleted else ""
        return f"{count} organization{'s' if count != 1 else ''} ({self._which}{extra})"
