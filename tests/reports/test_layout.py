"""Package layout rules the reports depend on: who imports matplotlib/tabulate, the sample exports."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "cloudmc_frames"
IMPORT = re.compile(r"^\s*(from|import)\s+(matplotlib|tabulate)\b", re.MULTILINE)


def test_only_reports_import_matplotlib_and_tabulate():
    offenders = [str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*.py")
                 if IMPORT.search(p.read_text(encoding="utf-8")) and "reports" not in p.parts]
    assert offenders == []


@pytest.mark.parametrize("name", ["inventory", "capacity", "audit"])
def test_sample_exports_have_the_report_columns(reports, name):
    sample = pd.read_csv(ROOT / "data" / f"{name}-sample.csv")
    assert list(sample.columns) == list(reports[name].frame.columns)
    assert len(sample) > 0
    assert f"{name}-sample.csv" in (ROOT / "data" / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["inventory", "capacity"])
def test_sample_exports_are_current(reports, name):
    """What ``tools/samples.py`` writes today (the audit's snapshot names move with the date)."""
    sample = (ROOT / "data" / f"{name}-sample.csv").read_text(encoding="utf-8")
    assert sample == reports[name].to_csv()


def test_the_regenerate_command_names_an_existing_tool():
    readme = (ROOT / "data" / "README.md").read_text(encoding="utf-8")
    assert ".venv/bin/python tools/samples.py data/" in readme and (ROOT / "tools" / "samples.py").is_file()


@pytest.mark.parametrize("name", ["inventory", "capacity", "audit"])
def test_report_functions_take_client_and_orgs_positionally_and_the_rest_by_keyword(name):
    import inspect

    import cloudmc_frames as cmf

    params = inspect.signature(getattr(cmf.reports, name)).parameters.values()
    positional = [p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional == ["client", "orgs"]
