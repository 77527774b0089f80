"""The history subcommands of ``cloudmc-frames``: ``snapshot``, ``snapshots`` and ``diff``.

Exit status as for the other commands: 0 complete, 2 partial (some scope could not be read),
1 failure with a one-line error.

Example::

    $ cloudmc-frames snapshot --root history/ --sandbox --label monday
    $ cloudmc-frames snapshots --root history/
    $ cloudmc-frames diff --root history/ previous latest --format html --out drift.html
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .report import EXIT_OK, EXIT_PARTIAL, FORMATS, _client, _write, progress, render


def add_command(commands: Any, common: argparse.ArgumentParser) -> None:
    """Register ``snapshot``, ``snapshots`` and ``diff`` on the main parser's subcommands."""
    take = commands.add_parser(
        "snapshot",
        parents=[common],
        help="crawl and write one snapshot (Parquet + manifest)",
        description="Crawl a CloudMC (CLOUDMC_ENDPOINT / --endpoint, key from CLOUDMC_API_KEY) or an "
        "embedded sandbox and write one snapshot under --root. Exit status: 0 complete, "
        "2 partial (some scopes could not be read), 1 failure.",
    )
    take.add_argument("--root", required=True, metavar="DIR", help="the snapshot folder")
    source = take.add_mutually_exclusive_group()
    source.add_argument("--sandbox", action="store_true", help="snapshot an embedded sandbox")
    source.add_argument("--endpoint", metavar="URL", help="CloudMC base URL (default: $CLOUDMC_ENDPOINT)")
    take.add_argument(
        "--org",
        action="append",
        metavar="PATTERN",
        help="organization id or path pattern (repeatable; default: all)",
    )
    take.add_argument("--label", help="a name for this snapshot (e.g. 'before maintenance')")
    take.add_argument("--collections", metavar="A,B,...", help="collections to read (default: the usual set)")
    take.add_argument("--fresh", action="store_true", help="refetch everything, ignoring the cache")
    take.add_argument(
        "--clean-incomplete",
        action="store_true",
        help="first remove snapshots that have no manifest (a crash)",
    )
    take.set_defaults(run=run_snapshot, offline=False)

    listing = commands.add_parser("snapshots", parents=[common], help="list the snapshots of a folder")
    listing.add_argument("--root", required=True, metavar="DIR", help="the snapshot folder")
    listing.add_argument("--all", action="store_true", help="also list incomplete snapshots")
    listing.set_defaults(run=run_snapshots)

    compare = commands.add_parser(
        "diff",
        parents=[common],
        help="what changed between two snapshots (a drift report)",
        description="The drift report between snapshots A and B (ids, 'previous'/'latest' or dates). "
        "Exit status: 0, or 2 when the newer snapshot is partial.",
    )
    compare.add_argument("--root", required=True, metavar="DIR", help="the snapshot folder")
    compare.add_argument("a", nargs="?", default="previous", help="older snapshot (default previous)")
    compare.add_argument("b", nargs="?", default="latest", help="newer snapshot (default latest)")
    compare.add_argument("--format", choices=FORMATS, default="text", help="output format (default text)")
    compare.add_argument("--out", metavar="PATH", help="write to PATH instead of standard output")
    compare.set_defaults(run=run_diff)


def run_snapshot(args: argparse.Namespace) -> int:
    """``cloudmc-frames snapshot``."""
    from ..snapshots import snapshot

    collections = [c.strip() for c in args.collections.split(",") if c.strip()] if args.collections else None
    with _client(args) as client:
        snap = snapshot(
            client,
            args.root,
            collections=collections,
            orgs=args.org,
            label=args.label,
            fresh=args.fresh,
            progress=progress(),
            clean_incomplete=args.clean_incomplete,
        )
    rows = sum(n for name, n in snap.tables.items() if name not in ("issues", "coverage"))
    print(f"snapshot {snap.id} written to {args.root}: {rows} rows in {len(snap.tables) - 2} collections")
    if snap.partial:
        print(
            f"cloudmc-frames: snapshot {snap.id} is partial: {len(snap.issues)} scopes could not be "
            "read (see its issues collection)",
            file=sys.stderr,
        )
        return EXIT_PARTIAL
    return EXIT_OK


def run_snapshots(args: argparse.Namespace) -> int:
    """``cloudmc-frames snapshots``."""
    from ..snapshots import snapshots

    frame = snapshots(args.root, include_incomplete=args.all)
    if frame.empty:
        print(f"no snapshots in {args.root}")
        return EXIT_OK
    shown = frame.drop(columns=["endpoint_fingerprint", "credential_fingerprint", "selection"])
    shown = shown.assign(taken_at=shown["taken_at"].dt.strftime("%Y-%m-%d %H:%M:%S"))
    print(shown.astype(object).where(shown.notna(), "").to_string(index=False))
    return EXIT_OK


def run_diff(args: argparse.Namespace) -> int:
    """``cloudmc-frames diff``."""
    from ..reports.drift import drift

    report = drift(args.root, a=args.a, b=args.b)
    _write(render(report, args.format), args.out)
    if not report.complete:
        print(
            f"cloudmc-frames: the newer snapshot is partial: {report.failed_scopes} scopes failed "
            "(listed under Issues)",
            file=sys.stderr,
        )
        return EXIT_PARTIAL
    return EXIT_OK
