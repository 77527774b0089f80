"""The ``cloudmc-frames`` command: ``demo``, ``orgs``, ``report``, ``sandbox``, and (history)
``snapshot``, ``snapshots``, ``diff``.

Exit status: 0 when the report is complete, 2 when some scopes could not be read (partial
data, see the report's Issues), 1 for every error, usage errors included; no arguments print
the help and exit 1. Every error is one line on standard error (``--debug`` adds the traceback
and request logs), and its hint names command-line options, not Python ones. Each command lives
in its own module (:mod:`.report`, :mod:`.orgs`, :mod:`.demo`, :mod:`.history`; ``sandbox`` is
:mod:`cloudmc_frames.sandbox.cli`); this one parses and dispatches.

Example::

    $ cloudmc-frames demo                                   # sandbox crawl, summary, three HTML reports
    $ cloudmc-frames orgs --sandbox                         # the paths --org matches
    $ cloudmc-frames report audit --sandbox --out audit.md  # the format from the suffix
    $ CLOUDMC_API_KEY=... cloudmc-frames report capacity --endpoint https://cloudmc.example.com \\
          --org 'acme-corp/*' --out capacity.html
    $ cloudmc-frames sandbox --orgs 50                      # serve a sandbox in the foreground
"""

from __future__ import annotations

import argparse
import logging
import sys

from .._version import __version__
from ..errors import CloudMCError
from ..sandbox import cli as sandbox_cli
from . import demo, history, orgs, report
from .output import EXIT_FAILURE

__all__ = ["main"]

PROG = "cloudmc-frames"
# What the library's hints say to a Python user, and what a shell user types instead.
CLI_HINTS = (
    ("See cmf.organizations(client)[['id', 'path']]",
     f"List them with `{PROG} orgs` (same --endpoint or --sandbox)"),
    ("pick an id from cmf.organizations(client)['id']", f"list them with `{PROG} orgs`"),
    ("pass allow_insecure=True", "pass --allow-insecure"),
    ("(or pass endpoint= and api_key= to cmf.connect()), or try the toolkit without an account: "
     "`with cmf.sandbox() as sb: client = sb.client()`",
     "(or pass --endpoint URL), or try the toolkit without an account: --sandbox"),
    ("raise read_timeout in cmf.connect()", "raise --read-timeout"),
    ("Run the same call once online (without offline=True) to fill the cache",
     "Run the same command once without --offline to fill the cache"),
    ("lower max_workers or retry", "retry"),
)


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line and exit 1 (2 means "partial data" here)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_FAILURE, f"{PROG}: error: {message} (see `{self.prog} --help`)\n")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return EXIT_FAILURE
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.run(args)
    except (CloudMCError, OSError) as error:
        if args.debug:
            raise
        print(f"{PROG}: error: {one_line(error)}", file=sys.stderr)
        return EXIT_FAILURE


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG,
                     description="CloudMC as pandas DataFrames: crawl, report, or serve a local sandbox.",
                     epilog="Exit status: 0 complete, 2 partial data (some scopes could not be read), "
                            "1 error.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="log every request and show tracebacks")
    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="log every request and show tracebacks")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    demo.add_command(commands, common)
    orgs.add_command(commands, common)
    report.add_command(commands, common)
    history.add_command(commands, common)  # snapshot, snapshots, diff
    serve = commands.add_parser("sandbox", parents=[common],
                                help="serve an embedded CloudMC sandbox until Ctrl-C")
    sandbox_cli.add_arguments(serve)
    serve.set_defaults(run=lambda args: sandbox_cli.run(args, prog=PROG))
    return parser


def one_line(error: BaseException) -> str:
    """The error's text on one line, its Python hints replaced by command-line ones."""
    text = " ".join(str(error).split()) or type(error).__name__
    for python, shell in CLI_HINTS:
        text = text.replace(python, shell)
    if isinstance(error, OSError) and not isinstance(error, CloudMCError) and error.filename:
        text = f"{error.strerror or text}: {error.filename}"
    return text
