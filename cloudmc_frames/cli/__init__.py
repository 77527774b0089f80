"""The ``cloudmc-frames`` command: ``demo``, ``report``, ``sandbox``, and (history) ``snapshot``,
``snapshots``, ``diff``.

Exit status: 0 when the report is complete, 2 when some scopes could not be read (partial
data, see the report's Issues), 1 on failure; errors print one line (``--debug`` adds the
traceback and request logs). Each command lives in its own module (:mod:`.report`,
:mod:`.demo`, :mod:`.history`; ``sandbox`` is :mod:`cloudmc_frames.sandbox.cli`); this one parses
and dispatches.

Example::

    $ cloudmc-frames demo                                   # sandbox crawl, summary, three HTML reports
    $ cloudmc-frames report audit --sandbox --format markdown
    $ CLOUDMC_API_KEY=... cloudmc-frames report capacity --endpoint https://cloudmc.example.com \\
          --org 'acme/*' --format html --out capacity.html
    $ cloudmc-frames sandbox --orgs 50                      # serve a sandbox in the foreground
"""

from __future__ import annotations

import argparse
import logging
import sys

from .._version import __version__
from ..errors import CloudMCError
from ..sandbox import cli as sandbox_cli
from . import demo, history, report
from .report import EXIT_FAILURE, EXIT_OK

__all__ = ["main"]


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
    demo.add_command(commands, common)
    report.add_command(commands, common)
    history.add_command(commands, common)  # snapshot, snapshots, diff
    serve = commands.add_parser("sandbox", parents=[common],
                                help="serve an embedded CloudMC sandbox until Ctrl-C")
    sandbox_cli.add_arguments(serve)
    serve.set_defaults(run=sandbox_cli.run)
    return parser


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
