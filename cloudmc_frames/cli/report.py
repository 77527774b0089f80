"""``cloudmc-frames report``: one report from a CloudMC or a sandbox, in one of five formats.

The format is ``--format``, else the suffix of ``--out`` (``.html``, ``.md``, ``.csv``, ``.json``,
``.txt``), else text; ``--out`` is checked before anything is read.

Example::

    $ cloudmc-frames report audit --sandbox --format markdown
    $ CLOUDMC_API_KEY=... cloudmc-frames report capacity --endpoint URL --org 'acme/*' --out c.html
    $ cloudmc-frames report usage --sandbox --start 2026-01-01 --end 2026-07-01 --period MONTH
    $ cloudmc-frames report utilization --sandbox --start 2026-11-01 --end 2026-12-01
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..errors import ConfigError
from . import output, source
from .output import EXIT_OK, EXIT_PARTIAL

FORMATS = ("text", "markdown", "csv", "json", "html")
KINDS = ("inventory", "capacity", "audit", "usage", "utilization")
WINDOWED = ("usage", "utilization")  # these read [--start, --end)


def add_command(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``report`` and its options to the subcommands."""
    report = commands.add_parser(
        "report", parents=[common], help="build an inventory, capacity, audit, usage or utilization report",
        description="Build a report from a CloudMC (CLOUDMC_ENDPOINT / --endpoint, key from "
                    "CLOUDMC_API_KEY) or from an embedded sandbox (--sandbox). Exit status: 0 "
                    "complete, 2 partial (some scopes could not be read), 1 failure.")
    report.add_argument("kind", choices=KINDS)
    source.add_arguments(report)
    report.add_argument("--org", action="append", metavar="PATTERN",
                        help="organization id or path pattern such as 'acme-corp/*' (repeatable; "
                             "`cloudmc-frames orgs` lists them)")
    report.add_argument("--format", choices=FORMATS,
                        help="output format (default: from the --out suffix, else text)")
    report.add_argument("--out", metavar="PATH", help="write to PATH instead of standard output")
    report.add_argument("--start", metavar="DATE",
                        help="usage, utilization: first day (UTC), e.g. 2026-01-01")
    report.add_argument("--end", metavar="DATE",
                        help="usage, utilization: the day after the last one (exclusive)")
    report.add_argument("--period", default="MONTH", choices=("DAY", "WEEK", "MONTH", "QUARTER", "YEAR"),
                        help="usage: sum per period (default MONTH)")
    report.add_argument("--metric", default="cpu", help="utilization: metric id or word (default cpu)")
    report.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Build the report, write it, and say whether it is complete (exit status)."""
    from ..reports import REPORTS, WINDOW_REPORTS  # matplotlib loads only for the commands that report

    output.check_file(args.out)
    fmt = output.choose_format(args.format, args.out, FORMATS)
    window = _window(args)
    with source.client_for(args) as client:
        build = REPORTS.get(args.kind) or WINDOW_REPORTS[args.kind]
        report = build(client, orgs=args.org, fresh=args.fresh, progress=progress(), **window)
    output.write(render(report, fmt), args.out)
    if not report.complete:
        print(f"cloudmc-frames: {args.kind} is incomplete: {report.failed_scopes} scopes failed "
              "(listed under Issues in the report)", file=sys.stderr)
        return EXIT_PARTIAL
    return EXIT_OK


def _window(args: argparse.Namespace) -> dict[str, Any]:
    """``start``/``end`` (and the kind's own option) for usage and utilization; none for the others."""
    if args.kind not in WINDOWED:
        if args.start or args.end:
            raise ConfigError(f"--start and --end are for usage and utilization, not {args.kind}")
        return {}
    if not args.start or not args.end:
        raise ConfigError(f"report {args.kind} needs --start and --end (YYYY-MM-DD, end exclusive)")
    extra = {"period": args.period} if args.kind == "usage" else {"metric": args.metric}
    return {"start": args.start, "end": args.end, **extra}


def render(report: Any, fmt: str) -> str:
    """The report in one of :data:`FORMATS`."""
    renderers = {"text": report.to_text, "markdown": report.to_markdown, "csv": report.to_csv,
                 "json": report.to_json, "html": report.to_html}
    return renderers[fmt]()


def progress() -> bool | None:
    """Progress bars only when standard error is a terminal (None: let the crawl decide)."""
    return None if sys.stderr.isatty() else False
