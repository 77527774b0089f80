"""``cloudmc-frames demo``: crawl a sandbox, print headline tables and a usage line, write three pages.

Example::

    $ cloudmc-frames demo --out /tmp/demo
    >>> print(summary_text({"inventory": inv, "capacity": cap, "audit": aud}))   # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import pandas as pd

from .. import accessors
from ..embedded import sandbox
from . import output
from .output import EXIT_OK, EXIT_PARTIAL

DEMO_FOLDER = "cloudmc-frames-demo"
HEADLINE = ("organizations", "organizations_deleted", "environments", "instances", "instances_running",
            "vcpus", "vcpus_running", "memory_gib", "memory_gib_running", "volumes", "volumes_unattached",
            "volume_gib", "volume_gib_unattached", "snapshots", "public_ips")
CLOSEST = 5
COUNT_MEANINGS = {"users": "users of the organizations read"}


def add_command(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``demo`` and its options to the subcommands."""
    demo = commands.add_parser(
        "demo", parents=[common],
        help="crawl an embedded sandbox, print a summary and write three HTML reports")
    demo.add_argument("--orgs", type=int, default=20, help="organizations in the sandbox (default 20)")
    demo.add_argument("--seed", type=int, default=7, help="scenario seed (default 7)")
    demo.add_argument("--out", default=DEMO_FOLDER, metavar="FOLDER",
                      help="where to write inventory.html, capacity.html, audit.html "
                           f"(default ./{DEMO_FOLDER}/)")
    demo.add_argument("--no-progress", action="store_true", help="hide progress bars")
    demo.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Build the three reports on a new sandbox, print the summary, write the pages."""
    from ..reports import REPORTS  # matplotlib loads only for the commands that report
    from ..reports.textfit import paragraph

    folder = Path(args.out)
    output.check_folder(args.out)  # before the crawl, not after it
    with sandbox(orgs=args.orgs, seed=args.seed) as sb:
        client = sb.client(progress=False if args.no_progress else None)
        tree = accessors.organizations(client, include_deleted=True)
        deleted = int(tree["deleted"].fillna(False).sum())
        print(f"Embedded CloudMC sandbox at {sb.endpoint}: {len(tree)} organizations ({deleted} of them "
              f"deleted), seed {args.seed}\n")
        reports = {name: build(client) for name, build in REPORTS.items()}
        people = {"users": len(accessors.users(client, orgs=tree))}  # from memory: the audit read them
        usage_line, usage_complete = usage_headline(client, pd.Timestamp.now(tz="UTC"))
    print(summary_text(reports, people))
    print(f"\n{paragraph(usage_line, rest='  ')}")
    folder.mkdir(parents=True, exist_ok=True)
    for name, report in reports.items():
        report.to_html(folder / f"{name}.html")
    print(f"\nWrote {', '.join(f'{name}.html' for name in reports)} to {folder}{os.sep}")
    return EXIT_OK if usage_complete and all(r.complete for r in reports.values()) else EXIT_PARTIAL


def usage_headline(client: Any, now: pd.Timestamp) -> tuple[str, bool]:
    """One sentence (the caller wraps it): last month's cost (and its change) and the idle capacity
    of the last 30 days; and whether both reports read everything."""
    from ..reports import usage, utilization

    this_month = now.tz_convert("UTC").normalize().replace(day=1)
    cost = usage(client, start=this_month - pd.DateOffset(months=2), end=this_month, by="organization")
    busy = utilization(client, start=now.floor("h") - pd.Timedelta(days=30), end=now.floor("h"))
    last = cost.summary.iloc[-1]
    pct = last["cost_change_pct"]
    change = "" if pd.isna(pct) else f" ({pct:+.1f}% on the month before)"
    held = busy.summary.set_index("measure")["value"]
    line = (f"Usage: {last['period']} cost {last['cost']:,.2f}{change}; {int(held['idle'])} idle running "
            f"instances (CPU p95 under 5% over the last 30 days) hold {int(held['idle vCPU'])} vCPU and "
            f"{held['idle memory']:,.0f} GiB")
    return line, cost.complete and busy.complete


def sections(reports: dict[str, Any],
             counts: dict[str, int] | None = None) -> list[tuple[str, pd.DataFrame]]:
    """Titled tables: inventory totals and states, the fullest quotas, findings per rule, scopes.

    ``counts`` adds rows to the totals (e.g. ``{"users": 44}``: users of the organizations read).
    Every figure is stated with what it counts (the inventory's ``meaning``, the rule's
    completeness): the totals count every organization read, deleted ones included, as the
    audit does, so the two agree.
    """
    inventory, capacity, audit = reports["inventory"], reports["capacity"], reports["audit"]
    totals = inventory.summary.set_index("measure").loc[list(HEADLINE)].reset_index()
    extra = pd.DataFrame({"measure": list(counts or {}), "value": pd.Series(list((counts or {}).values()),
                                                                             dtype=object),
                          "unit": "count", "meaning": [COUNT_MEANINGS.get(n, "") for n in counts or {}]})
    table = pd.concat([totals.iloc[:3], extra, totals.iloc[3:]], ignore_index=True)
    shown = ["measure", "value", "unit", "meaning"]
    if not (table["completeness"].fillna("complete") == "complete").all():
        shown.insert(3, "completeness")
    scopes = pd.concat([r.coverage.assign(report=name) for name, r in reports.items()])
    read = scopes.groupby(["report", "status"], observed=True).size().rename("scopes").reset_index()
    return [("Inventory totals (every organization read, deleted ones included)", table[shown]),
            ("Instances by provider state", inventory.tables["states"]),
            (f"Quotas closest to their ceiling (top {CLOSEST}, organizations not deleted)",
             _closest(capacity.tables["closest"].head(CLOSEST))),
            ("Audit findings per rule",
             audit.summary[["rule", "completeness", "findings", "high", "medium", "low"]]),
            ("Scopes read (coverage)", read),
            ("Issues", _issues(reports))]


def summary_text(reports: dict[str, Any], counts: dict[str, int] | None = None) -> str:
    """The sections as plain-text tables."""
    from ..reports.render import table_text

    return "\n\n".join(f"{title}\n{table_text(frame, 'simple')}"
                       for title, frame in sections(reports, counts))


def _closest(table: pd.DataFrame) -> pd.DataFrame:
    """The fullest ceilings with short organization paths; completeness only when not complete."""
    from ..reports.figures import short_path

    table = table.assign(organization_path=table["organization_path"].map(short_path))
    complete = (table["completeness"].astype(str) == "complete").all()
    return table.drop(columns="completeness") if complete else table


def _issues(reports: dict[str, Any]) -> pd.DataFrame:
    frames = [r.issues.assign(report=name) for name, r in reports.items() if not r.complete]
    if not frames:
        return pd.DataFrame({"issues": ["none: every scope was read"]})
    issues = pd.concat(frames, ignore_index=True)
    return issues[["report", "organization_path", "environment", "entity", "status", "exception"]].head(10)
