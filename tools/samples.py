"""Regenerate the sample exports in ``data/`` from the demo's sandbox (orgs=20, seed=7).

The audit runs with the scenario's own clock (``now`` = the sandbox's reference midnight), and
the scenario is built relative to it, so the files come out the same on any day.

A maintenance script, not part of the package. Usage::

    $ .venv/bin/python tools/samples.py data/
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cloudmc_frames as cmf

SCENARIO = {"orgs": 20, "seed": 7}


def write_samples(folder: str | Path) -> list[Path]:
    """Write ``inventory-sample.csv``, ``capacity-sample.csv`` and ``audit-sample.csv``; return the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with cmf.sandbox(**SCENARIO) as sb, sb.client(progress=False) as client:
        reports = {"inventory": cmf.reports.inventory(client), "capacity": cmf.reports.capacity(client),
                   "audit": cmf.reports.audit(client, now=sb.store.now)}
    paths = []
    for name, report in reports.items():
        path = folder / f"{name}-sample.csv"
        report.to_csv(path)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    """``python tools/samples.py FOLDER``."""
    parser = argparse.ArgumentParser(prog="tools/samples.py",
                                     description="Write the sample CSV exports of the demo sandbox.")
    parser.add_argument("folder", nargs="?", default="data", help="where to write (default ./data)")
    for path in write_samples(parser.parse_args(argv).folder):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
