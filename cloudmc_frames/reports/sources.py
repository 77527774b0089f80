"""Where reports get their frames: the accessors, plus the issues and coverage of one report.

A :class:`Crawl` remembers how far the client's ledger had grown when a report started, so
the report's ``issues`` and ``coverage`` hold only the rows its own accessor calls added.

Example::

    >>> crawl = Crawl(client, orgs="acme/*", options={"progress": False})   # doctest: +SKIP
    >>> vms = crawl.read(accessors.instances)
    >>> crawl.issues(), crawl.coverage(), crawl.completeness().status(["instances"])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from .. import accessors
from ..client import Client
from ..frames import coverage_frame, issues_frame
from ..options import CrawlOptions, check_client
from ..orgtree import select_organizations
from .completeness import Completeness


class Crawl:
    """The accessor calls behind one report, over one selection of organizations."""

    def __init__(self, client: Client, orgs: Any = None, options: dict | None = None, *,
                 include_deleted: bool = False) -> None:
        check_client(client)
        self.client = client
        self.options = CrawlOptions.from_kwargs(options or {})
        self._passed = self.options.as_kwargs()
        issues, coverage = client.ledger.snapshot()
        self._start = (len(issues), len(coverage))
        self.tree = accessors.organizations(client, include_deleted=True, fresh=self.options.fresh)
        self.orgs = self._selection(orgs, include_deleted)
        every = orgs is None and not include_deleted  # then deleted organizations are left out
        self._left_out = int(self.tree["deleted"].fillna(False).sum()) if every else 0
        self._which = ("every visible organization" if orgs is None else f"orgs={orgs!r}"
                       if isinstance(orgs, str | list) else f"orgs from a {type(orgs).__name__}")

    def _selection(self, orgs: Any, include_deleted: bool) -> pd.DataFrame:
        if orgs is None and include_deleted:
            return self.tree
        return select_organizations(self.tree, orgs)

    def read(self, accessor: Callable[..., pd.DataFrame], *args: Any) -> pd.DataFrame:
        """``accessor(client, *args, orgs=<selection>, **options)``."""
        return accessor(self.client, *args, orgs=self.orgs, **self._passed)

    def members(self, orgs: Any) -> pd.DataFrame:
        """Members of each live environment of ``orgs`` (ids), one row per binding."""
        return accessors.environment_members(self.client, orgs=orgs, **self._passed)

    def issues(self) -> pd.DataFrame:
        """Issues added since this crawl started."""
        return issues_frame(self.client.ledger.snapshot()[0][self._start[0]:])

    def coverage(self) -> pd.DataFrame:
        """Coverage rows added since this crawl started."""
        return coverage_frame(self.client.ledger.snapshot()[1][self._start[1]:])

    def completeness(self, environments: pd.DataFrame | None = None,
                     also: pd.DataFrame | None = None) -> Completeness:
        """What this crawl could not read so far (see :mod:`.completeness`).

        ``environments`` (an environments frame) lets rows keyed by ``service_code`` be matched;
        ``also``: coverage-like rows (``organization_id``, ``environment``, ``entity``,
        ``status``) for inputs the report knows it could not ask for.
        """
        connections = {} if environments is None else {
            (o, n): c for o, n, c in zip(environments["organization_id"].astype(object),
                                         environments["name"].astype(object),
                                         environments["service_code"].astype(object), strict=True)
            if isinstance(c, str)}
        coverage = self.coverage() if also is None or also.empty else pd.concat(
            [self.coverage(), also], ignore_index=True)
        return Completeness(coverage, connections)

    def scope_text(self) -> str:
        """The selection in words, e.g. ``18 organizations (orgs='acme/*')``; deleted organizations
        counted or left out are said so (``20 organizations (..., 2 of them deleted)``, ``18
        organizations (..., 2 deleted ones left out)``), so reports that count differently agree."""
        count = len(self.orgs)
        deleted = int(self.orgs["deleted"].fillna(False).sum())
        extra = (f", {deleted} of them deleted" if deleted else
                 f"; {self._left_out} deleted one{'s' if self._left_out != 1 else ''} left out"
                 if self._left_out else "")
        return f"{count} organization{'s' if count != 1 else ''} ({self._which}{extra})"
