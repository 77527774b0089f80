"""The ``cloudmc-frames`` command: ``demo``, ``sandbox`` (and ``report``).

Example::

    $ cloudmc-frames demo                 # crawl an embedded sandbox and print a summary
    $ cloudmc-frames sandbox --orgs 50    # serve a sandbox in the foreground
"""

from __future__ import annotations

import argparse
import logging
import sys

from ._version import __version__


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 0
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    return args.run(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cloudmc-frames",
        description="CloudMC as pandas DataFrames: crawl, report, or serve a local sandbox.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="log every request and show tracebacks")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    demo = commands.add_parser("demo", help="crawl an embedded sandbox and print an inventory summary")
    demo.add_argument("--orgs", type=int, default=20, help="organizations in the sandbox (default 20)")
    demo.add_argument("--seed", type=int, default=7, help="scenario seed (default 7)")
    demo.add_argument("--no-progress", action="store_true", help="hide progress bars")
    demo.set_defaults(run=_demo)

    from .sandbox import cli as sandbox_cli

    serve = commands.add_parser("sandbox", help="serve an embedded CloudMC sandbox until Ctrl-C")
    sandbox_cli.add_arguments(serve)
    serve.set_defaults(run=sandbox_cli.run)
    return parser


def _demo(args: argparse.Namespace) -> int:
    from .embedded import sandbox
    from .reports import crawl_overview, render_sections

    with sandbox(orgs=args.orgs, seed=args.seed) as sb:
        print(f"Embedded CloudMC sandbox at {sb.endpoint} ({args.orgs} organizations, seed {args.seed})\n")
        client = sb.client(progress=False if args.no_progress else None)
        print(render_sections(crawl_overview(client)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
