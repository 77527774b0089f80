"""Execute the notebooks in ``notebooks/`` in place, so they are committed with their outputs.

Each notebook runs top to bottom in a fresh kernel, as "Run All" would, against the embedded
sandbox it starts itself (``CLOUDMC_*`` variables are removed from its environment, so every
notebook reads the default scenario: orgs=20, seed=7). Widget state is saved in the notebook's
metadata, so GitHub and nbviewer show the forms and bars as they were. Outputs are checked
before anything is written: no error, no API key of the scenario, no path of this checkout.
The CI test (``tests/notebooks``) still re-executes every notebook.

A maintenance script, not part of the package. Usage::

    $ .venv/bin/python tools/notebooks.py                 # every notebook
    $ .venv/bin/python tools/notebooks.py 05-operations   # one (a name or a path)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

import cloudmc_frames as cmf

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "notebooks"
TIMEOUT_SECONDS = 300
SCENARIO = {"orgs": 20, "seed": 7}


def execute(path: Path, keys: list[str]) -> nbformat.NotebookNode:
    """The notebook at ``path`` executed in a fresh kernel, widget state kept; checked, not written."""
    notebook = nbformat.read(path, as_version=4)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDMC_")}
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(environ)  # the kernel inherits this process's environment
    try:
        NotebookClient(notebook, timeout=TIMEOUT_SECONDS, kernel_name="python3", store_widget_state=True,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    problems = check(notebook, keys)
    if problems:
        raise SystemExit(f"{path.name}: {'; '.join(problems)}")
    return notebook


def check(notebook: nbformat.NotebookNode, keys: list[str]) -> list[str]:
    """What would make the outputs unfit to commit (empty when they are fine)."""
    text = json.dumps(notebook)
    problems = [f"an output of type error in cell {n}" for n, cell in enumerate(notebook.cells)
                for output in cell.get("outputs", ()) if output.get("output_type") == "error"]
    problems += ["an API key in the outputs"] if any(key in text for key in keys) else []
    problems += [f"a path of this checkout ({ROOT}) in the outputs"] if str(ROOT) in text else []
    return problems


def main(argv: list[str] | None = None) -> int:
    """``python tools/notebooks.py [NAME ...]``."""
    parser = argparse.ArgumentParser(prog="tools/notebooks.py", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebooks to run (default: all of notebooks/)")
    args = parser.parse_args(argv)
    paths = [_path(name) for name in args.names] or sorted(FOLDER.glob("*.ipynb"))
    with cmf.sandbox(**SCENARIO) as sb:  # the same seed, the same keys as the notebooks' sandboxes
        keys = [info.key for info in sb.keys]
    for path in paths:
        nbformat.write(execute(path, keys), path)
        print(f"executed {path.relative_to(ROOT)}")
    return 0


def _path(name: str) -> Path:
    path = Path(name)
    if path.is_file():
        return path.resolve()
    found = sorted(FOLDER.glob(f"{name}*.ipynb"))
    if len(found) != 1:
        raise SystemExit(f"{name!r} names {len(found)} notebooks in {FOLDER}")
    return found[0]


if __name__ == "__main__":
    sys.exit(main())
