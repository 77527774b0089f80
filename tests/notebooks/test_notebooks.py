"""Every notebook in notebooks/ runs headless (nbclient) against the sandbox, and is committed clean.

Each notebook starts its own sandbox (CLOUDMC_ENDPOINT is unset here). A failing notebook is
saved, with its outputs, under tests/notebooks/_failed/ for inspection.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
FAILED = Path(__file__).resolve().parent / "_failed"
TIMEOUT_SECONDS = 120  # per cell: a hung cell fails instead of blocking the suite


@pytest.fixture(scope="module")
def sandbox_keys(sb):
    """The keys of the scenario the notebooks start (orgs=20, seed=7): same seed, same keys."""
    return [info.key for info in sb.keys]


def test_there_are_notebooks():
    names = [p.name for p in NOTEBOOKS]
    for expected in ("01-quickstart.ipynb", "02-inventory.ipynb", "03-capacity.ipynb", "04-org-audit.ipynb"):
        assert expected in names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, sandbox_keys, monkeypatch):
    monkeypatch.delenv("CLOUDMC_ENDPOINT", raising=False)
    monkeypatch.delenv("CLOUDMC_API_KEY", raising=False)
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=TIMEOUT_SECONDS, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except CellExecutionError:
        FAILED.mkdir(exist_ok=True)
        nbformat.write(notebook, FAILED / path.name)
        raise
    errors = [o for c in notebook.cells for o in c.get("outputs", ()) if o.get("output_type") == "error"]
    assert not errors
    text = json.dumps(notebook)
    leaked = [key for key in sandbox_keys if key in text]
    assert not leaked, f"{path.name} shows an API key in its outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: a cell has outputs"
            assert cell.execution_count is None, f"{path.name}: a cell has an execution count"
    assert "widgets" not in notebook.metadata, f"{path.name}: widget state is saved"
