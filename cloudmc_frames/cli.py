"""The ``cloudmc-frames`` command: ``demo``, ``report``, ``sandbox``, and (history) ``snapshot``,
``snapshots``, ``diff``.

Exit status: 0 when the report is complete, 2 when some scopes could not be read (partial
data, see the report's Issues), 1 on failure; errors print one line (``--debug`` adds the
traceback and request logs).

Example::

    $ cloudmc-frames demo                                   # sandbox crawl, summary, three HTML reports
    $ cloudmc-frames report audit --sandbox --format markdown
    $ CLOUDMC_API_KEY=... cloudmc-frames report capacity --endpoint https://cloudmc.example.com \\
          --org 'acme/*' --format html --out capacity.html
    $ cloudmc-frames sandbox --orgs 50                      # serve a sandbox in the foreground
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._version import __version__
from .errors import CloudMCError, ConfigError

EXIT_OK, EXIT_FAILURE, EXIT_PARTIAL = 0, 1, 2
FORMATS = ("text", "markdown", "csv", "json", "html")
DEMO_FOLDER = "cloudmc-frames-demo"


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors as exit status 1 (2 means "partial data" here)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_FAILURE, f"{self.prog}: error: {message}\n")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return EXIT_OK
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.run(args)
    except (CloudMCError, OSError) as error:
        if args.debug:
            raise
        print(f"cloudmc-frames: error: {_one_line(error)}", file=sys.stderr)
        return EXIT_FAILURE


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="cloudmc-frames",
                     description="CloudMC as pandas DataFrames: crawl, report, or serve a local sandbox.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="log every request and show tracebacks")
    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="log every request and show tracebacks")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_demo(commands, common)
    _add_report(commands, common)
    from .snapshots.commands import add_commands as add_history_commands  # snapshot, snapshots, diff

    add_history_commands(commands, common)
    from .sandbox import cli as sandbox_cli

    serve = commands.add_parser("sandbox", parents=[common],
                                help="serve an embedded CloudMC sandbox until Ctrl-C")
    sandbox_cli.add_arguments(serve)
    serve.set_defaults(run=sandbox_cli.run)
    return parser


def _add_demo(commands: Any, common: argparse.ArgumentParser) -> None:
    demo = commands.add_parser(
        "demo", parents=[common],
        help="crawl an embedded sandbox, print a summary and write three HTML reports")
    demo.add_argument("--orgs", type=int, default=20, help="organizations in the sandbox (default 20)")
    demo.add_argument("--seed", type=int, default=7, help="scenario seed (default 7)")
    demo.add_argument("--out", default=DEMO_FOLDER, metavar="FOLDER",
                      help="where to write inventory.html, capacity.html, audit.html "
                           f"(default ./{DEMO_FOLDER}/)")
    demo.add_argument("--no-progress", action="store_true", help="hide progress bars")
    demo.set_defaults(run=_demo)


def _add_report(commands: Any, common: argparse.ArgumentParser) -> None:
    report = commands.add_parser(
        "report", parents=[common], help="build an inventory, capacity or audit report",
        description="Build a report from a CloudMC (CLOUDMC_ENDPOINT / --endpoint, key from "
                    "CLOUDMC_API_KEY) or from an embedded sandbox (--sandbox). Exit status: 0 "
                    "complete, 2 partial (some scopes could not be read), 1 failure.")
    report.add_argument("kind", choices=("inventory", "capacity", "audit"))
    source = report.add_mutually_exclusive_group()
    source.add_argument("--sandbox", action="store_true",
                        help="report on an embedded sandbox (orgs=20, seed=7)")
    source.add_argument("--endpoint", metavar="URL", help="CloudMC base URL (default: $CLOUDMC_ENDPOINT)")
    report.add_argument("--org", action="append", metavar="PATTERN",
                        help="organization id or path pattern such as 'acme/eu/*' (repeatable)")
    report.add_argument("--format", choices=FORMATS, default="text", help="output format (default text)")
    report.add_argument("--out", metavar="PATH", help="write to PATH instead of standard output")
    report.add_argument("--offline", action="store_true", help="answer only from the local cache")
    report.add_argument("--fresh", action="store_true", help="refetch everything, ignoring the cache")
    report.set_defaults(run=_report)


# -- report ---------------------------------------------------------------------------------------

def _report(args: argparse.Namespace) -> int:
    from .reports import REPORTS

    if args.offline and args.fresh:
        raise ConfigError("--offline and --fresh contradict each other: pick one")
    with _client(args) as client:
        report = REPORTS[args.kind](client, orgs=args.org, fresh=args.fresh, progress=_progress())
    _write(render(report, args.format), args.out)
    if not report.complete:
        print(f"cloudmc-frames: {args.kind} is incomplete: {report.failed_scopes} scopes failed "
              "(listed under Issues in the report)", file=sys.stderr)
        return EXIT_PARTIAL
    return EXIT_OK


def render(report: Any, fmt: str) -> str:
    """The report in one of :data:`FORMATS`."""
    renderers = {"text": report.to_text, "markdown": report.to_markdown, "csv": report.to_csv,
                 "json": report.to_json, "html": report.to_html}
    return renderers[fmt]()


@contextlib.contextmanager
def _client(args: argparse.Namespace) -> Iterator[Any]:
    """A client for --sandbox (a sandbox started for the run), --endpoint or the environment."""
    from .client import connect
    from .config import ENV_API_KEY

    if args.sandbox:
        if args.offline:
            raise ConfigError("--offline needs --endpoint: a sandbox starts with an empty cache")
        from .embedded import sandbox

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


def _progress() -> bool | None:
    return None if sys.stderr.isatty() else False


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


# -- demo -----------------------------------------------------------------------------------------

def _demo(args: argparse.Namespace) -> int:
    from . import accessors
    from .embedded import sandbox
    from .reports import REPORTS
    from .reports.demo import summary_text

    folder = Path(args.out)
    with sandbox(orgs=args.orgs, seed=args.seed) as sb:
        print(f"Embedded CloudMC sandbox at {sb.endpoint} ({args.orgs} organizations, seed {args.seed})\n")
        client = sb.client(progress=False if args.no_progress else None)
        reports = {name: build(client) for name, build in REPORTS.items()}
        people = {"users": len(accessors.users(client)),  # from memory: the audit read them
                  "environments": len(accessors.environments(client))}
    print(summary_text(reports, people))
    folder.mkdir(parents=True, exist_ok=True)
    for name, report in reports.items():
        report.to_html(folder / f"{name}.html")
    print(f"\nWrote {', '.join(f'{name}.html' for name in reports)} to {folder}{os.sep}")
    return EXIT_OK if all(r.complete for r in reports.values()) else EXIT_PARTIAL


if __name__ == "__main__":
    sys.exit(main())
