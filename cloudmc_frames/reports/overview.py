"""The short inventory summary ``cloudmc-frames demo`` prints: counts from one full crawl.

Example::

    >>> sections = crawl_overview(client)            # doctest: +SKIP
    >>> print(render_sections(sections))             # doctest: +SKIP
"""

from __future__ import annotations

import pandas as pd
from tabulate import tabulate

from .. import accessors
from ..client import Client
from ..frames import to_text_safe


def crawl_overview(client: Client, orgs=None, **crawl) -> list[tuple[str, pd.DataFrame]]:
    """Crawl organizations, users, environments, instances and volumes; return titled tables."""
    tree = accessors.organizations(client)
    selected = tree if orgs is None else accessors.select_organizations(tree, orgs)
    people = accessors.users(client, orgs=selected, **crawl)
    envs = accessors.environments(client, orgs=selected, **crawl)
    vms = accessors.instances(client, orgs=selected, **crawl)
    vols = accessors.volumes(client, orgs=selected, **crawl)
    totals = pd.DataFrame({
        "what": ["organizations", "users", "users without 2FA", "environments", "instances",
                 "vCPU (running)", "memory GiB (running)", "volumes", "volume GiB",
                 "unattached volume GiB"],
        "count": [len(selected), len(people), int((~people["tfa_enabled"].fillna(False)).sum()),
                  len(envs), len(vms), int(vms.loc[vms["is_running"].fillna(False), "vcpus"].sum()),
                  round(float(vms.loc[vms["is_running"].fillna(False), "memory_gib"].sum()), 1),
                  len(vols), round(float(vols["size_gib"].sum()), 1),
                  round(float(vols.loc[~vols["is_attached"].fillna(False), "size_gib"].sum()), 1)],
    })
    states = (vms.groupby(["connection_type", "power_state"], observed=True).size()
              .rename("instances").reset_index())
    coverage = client.coverage
    scopes = coverage.groupby("status", observed=True).size().rename("scopes").reset_index()
    return [("Totals", totals), ("Instances by state", states),
            ("Scopes read (client.coverage)", scopes),
            ("Issues (client.issues)", _issue_table(client.issues))]


def _issue_table(issues: pd.DataFrame) -> pd.DataFrame:
    if issues.empty:
        return pd.DataFrame({"issues": ["none: every scope was read"]})
    return issues[["accessor", "organization_path", "environment", "status", "exception"]].head(10)


def render_sections(sections: list[tuple[str, pd.DataFrame]], tablefmt: str = "simple") -> str:
    """Titled tables as plain text (tabulate), missing values shown as blanks."""
    parts = []
    for title, frame in sections:
        table = tabulate(to_text_safe(frame), headers="keys", tablefmt=tablefmt, showindex=False)
        parts.append(f"{title}\n{table}")
    return "\n\n".join(parts)
