"""``cloudmc-frames report``: one report from a CloudMC or a sandbox, in one of five formats.

Example::

    $ cloudmc-frames report audit --sandbox --format markdown
    $ CLOUDMC_API_KEY=... cloudmc-frames report capacity --endpoint URL --org 'acme/*' --out c.html
    $ cloudmc-frames report usage --sandbox --start 2026-01-01 --end 2026-07-01 --period MONTH
    $ cloudmc-frames report utilization --sandbox --start 2026-11-01 --end 2026-12-01
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..client import connect
from ..config import ENV_API_KEY
from ..embedded import sandbox
from ..errors import ConfigError

EXIT_OK, EXIT_FAILURE, EXIT_PARTIAL = 0, 1, 2
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
    source = report.add_mutually_exclusive_group()
    source.add_argument("--sandbox", action="store_true",
                        help="report on an embedded sandbox (orgs=20, seed=7)")
    source.add_argument("--endpoint", metavar="URL", help="CloudMC base URL (default: $CLOUDMC_ENDPOINT)")
    report.add_argument("--org", action="append", metavar="PATTERN",
                        help="organization id or path pattern such as 'acme/eu/*' (repeatable)")
    report.add_argument("--format", choices=FORMATS, default="text", help="output format (default text)")
    report.add_argument("--out", metavar="PATH", help="write to PATH instead of standard output")
    report.add_argument("--start", metavar="DATE",
                        help="usage, utilization: first day (UTC), e.g. 2026-01-01")
    report.add_argument("--end", metavar="DATE",
                        help="usage, utilization: the day after the last one (exclusive)")
    report.add_argument("--period", default="MONTH", choices=("DAY", "WEEK", "MONTH", "QUARTER", "YEAR"),
                        help="usage: sum per period (default MONTH)")
    report.add_argument("--metric", default="cpu", help="utilization: metric id or word (default cpu)")
    report.add_argument("--offline", action="store_true", help="answer only from the local cache")
    report.add_argument("--fresh", action="store_true", help="refetch everything, ignoring the cache")
    report.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Build the report, write it, and say whether it is complete (exit status)."""
    from ..reports import REPORTS, WINDOW_REPORTS  # matplotlib loads only for the commands that report

    if args.offline and args.fresh:
        raise ConfigError("--offline and --fresh contradict each other: pick one")
    window = _window(args)
    with _client(args) as client:
        build = REPORTS.get(args.kind) or WINDOW_REPORTS[args.kind]
        report = build(client, orgs=args.org, fresh=args.fresh, progress=progress(), **window)
    _write(render(report, args.format), args.out)
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


@contextlib.contextmanager
def _client(args: argparse.Namespace) -> Iterator[Any]:
    """A client for --sandbox (a sandbox started for the run), --endpoint or the environment."""
    if args.sandbox:
        if args.offline:
            raise ConfigError("--offline needs --endpoint: a sandbox starts with an empty cache")
        with sandbox() as sb, sb.client() as client:
            yield client
        return
    if args.endpoint and not os.environ.get(ENV_API_KEY, "").strip():
        raise ConfigError(f"{ENV_API_KEY} is not set: export your CloudMC API key (or use --sandbox)")
    try:
        client = connect(args.endpoint, offline=args.offline)  # the key comes from CLOUDMC_API_KEY
    except ConfigError as error:
        if args.endpoint:
            raise
        raise ConfigError(f"{error} (on the command line: --endpoint URL, or --sandbox)") from None
    with client:
        yield client


def _write(text: str, out: str | None) -> None:
    if out is None:
        sys.stdout.write(text)
        return
    Path(out).write_text(text, encoding="utf-8")
    print(f"wrote {out}", file=sys.stderr)
