"""Every notebook in notebooks/ runs headless (nbclient) against the sandbox, and is committed
with its outputs (run by ``tools/notebooks.py``), so it reads well on GitHub.

Each notebook starts its own sandbox (CLOUDMC_ENDPOINT is unset here). The run here starts
from the committed notebook and writes nothing back; a failing notebook is saved, with its
outputs, under tests/notebooks/_failed/ for inspection.
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
def test_notebook_is_committed_with_its_outputs(path, sandbox_keys):
    """Readable on GitHub: run top to bottom (``tools/notebooks.py``), outputs and widget state kept,
    no error, no API key, no path of the checkout."""
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1)), \
        f"{path.name}: not executed top to bottom (run tools/notebooks.py)"
    assert sum(1 for cell in code if cell.outputs) >= len(code) // 2, f"{path.name}: outputs missing"
    outputs = [o for cell in code for o in cell.outputs]
    assert not [o for o in outputs if o.get("output_type") == "error"], f"{path.name}: an error is committed"
    views = {o["data"]["application/vnd.jupyter.widget-view+json"]["model_id"] for o in outputs
             if "application/vnd.jupyter.widget-view+json" in o.get("data", {})}
    if views:
        state = notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
        assert views <= set(state), f"{path.name}: widget state is not saved"
    text = json.dumps(notebook)
    assert not [key for key in sandbox_keys if key in text], f"{path.name} shows an API key"
    assert str(ROOT) not in text, f"{path.name} shows a path of this checkout"
