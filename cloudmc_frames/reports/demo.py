"""The summary ``cloudmc-frames demo`` prints: the headline tables of the three reports.

Example::

    >>> print(summary_text({"inventory": inv, "capacity": cap, "audit": aud}))   # doctest: +SKIP
"""

from __future__ import annotations

import pandas as pd

from .render import table_text
from .report import Report

HEADLINE = ("instances", "instances_running", "vcpus", "vcpus_running", "memory_gib",
            "memory_gib_running", "volumes", "volume_gib", "volume_gib_unattached", "snapshots",
            "public_ips")
CLOSEST = 5


def sections(reports: dict[str, Report],
             counts: dict[str, int] | None = None) -> list[tuple[str, pd.DataFrame]]:
    """Titled tables: inventory totals and states, the fullest quotas, findings per rule, scopes.

    ``counts`` adds rows to the totals (e.g. ``{"users": 44, "environments": 34}``).
    """
    inventory, capacity, audit = reports["inventory"], reports["capacity"], reports["audit"]
    totals = inventory.summary[inventory.summary["measure"].isin(HEADLINE)][["measure", "value", "unit"]]
    heads = {"organizations": len(inventory.tables["rollup"]), **(counts or {})}
    organizations = pd.DataFrame({"measure": list(heads), "value": [float(v) for v in heads.values()],
                                  "unit": ["count"] * len(heads)})
    scopes = pd.concat([r.coverage.assign(report=name) for name, r in reports.items()])
    read = scopes.groupby(["report", "status"], observed=True).size().rename("scopes").reset_index()
    return [("Inventory totals", pd.concat([organizations, totals], ignore_index=True)),
            ("Instances by provider state", inventory.tables["states"]),
            (f"Quotas closest to their ceiling (top {CLOSEST})", capacity.tables["closest"].head(CLOSEST)),
            ("Audit findings per rule", audit.summary[["rule", "findings", "high", "medium", "low"]]),
            ("Scopes read (coverage)", read),
            ("Issues", _issues(reports))]


def _issues(reports: dict[str, Report]) -> pd.DataFrame:
    frames = [r.issues.assign(report=name) for name, r in reports.items() if not r.complete]
    if not frames:
        return pd.DataFrame({"issues": ["none: every scope was read"]})
    issues = pd.concat(frames, ignore_index=True)
    return issues[["report", "organization_path", "environment", "entity", "status", "exception"]].head(10)


def summary_text(reports: dict[str, Report], counts: dict[str, int] | None = None) -> str:
    """The sections as plain-text tables."""
    return "\n\n".join(f"{title}\n{table_text(frame, 'simple')}"
                       for title, frame in sections(reports, counts))
