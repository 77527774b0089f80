"""``cloudmc-frames orgs``: the organizations a key can see, with the paths ``--org`` matches.

Example::

    $ cloudmc-frames orgs --sandbox
    $ cloudmc-frames orgs --endpoint URL --include-deleted --out orgs.csv
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import pandas as pd

from .. import accessors
from . import output, source
from .output import EXIT_OK

FORMATS = ("text", "csv", "json")
COLUMNS = ("path", "name", "id", "depth", "deleted")


def add_command(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``orgs`` and its options to the subcommands."""
    orgs = commands.add_parser(
        "orgs", parents=[common], help="list the organizations the key can see (paths for --org)",
        description="List every organization the key (CLOUDMC_API_KEY) can see, in tree order, "
                    "with the path that --org patterns match.")
    source.add_arguments(orgs)
    orgs.add_argument("--include-deleted", action="store_true", help="list deleted organizations too")
    orgs.add_argument("--format", choices=FORMATS, help="output format (default: from the --out suffix, "
                                                         "else text)")
    orgs.add_argument("--out", metavar="PATH", help="write to PATH instead of standard output")
    orgs.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print (or write) the organization tree."""
    output.check_file(args.out)
    fmt = output.choose_format(args.format, args.out, FORMATS)
    with source.client_for(args) as client:
        tree = accessors.organizations(client, include_deleted=args.include_deleted, fresh=args.fresh)
    output.write(render(tree[list(COLUMNS)], fmt), args.out)
    return EXIT_OK


def render(frame: pd.DataFrame, fmt: str) -> str:
    """The organizations as text, CSV or JSON."""
    if fmt == "csv":
        return frame.to_csv(index=False)
    if fmt == "json":
        return json.dumps(json.loads(frame.to_json(orient="records")), indent=1) + "\n"
    from ..reports.render import table_text

    return table_text(frame, "simple") + "\n"
