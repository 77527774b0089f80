"""Report renderings: CSV/JSON round trips, text without nan, self-contained HTML, labelled charts."""

from __future__ import annotations

import io
import json
import re

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

NAMES = ("inventory", "capacity", "audit")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def as_read_back(frame: pd.DataFrame) -> pd.DataFrame:
    """What CSV/JSON can carry: plain objects, NaN for missing values."""
    return frame.astype(object).where(frame.notna(), np.nan)


@pytest.mark.parametrize("name", NAMES)
def test_csv_round_trip(reports, name, tmp_path):
    report = reports[name]
    path = tmp_path / f"{name}.csv"
    report.to_csv(path)
    back = pd.read_csv(path, keep_default_na=False, na_values=[""])
    assert list(back.columns) == list(report.frame.columns)
    pd.testing.assert_frame_equal(as_read_back(back), as_read_back(report.frame), check_dtype=False)


@pytest.mark.parametrize("name", NAMES)
def test_json_round_trip(reports, name):
    report = reports[name]
    document = json.loads(report.to_json())
    assert document["report"] == name and document["complete"] is True
    rows = pd.DataFrame(document["rows"], columns=list(report.frame.columns))
    pd.testing.assert_frame_equal(as_read_back(rows), as_read_back(report.frame), check_dtype=False)
    assert pd.DataFrame(document["summary"]).shape == report.summary.shape


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("render", ["to_text", "to_markdown"])
def test_text_renderings_show_no_missing_markers(reports, name, render):
    text = getattr(reports[name], render)()
    assert reports[name].title in text
    assert not re.search(r"(?<![\w])(nan|NaN|<NA>|NaT|None)(?![\w])", text)
    if render == "to_markdown":
        assert "|---" in text or "|:--" in text or "| --" in text


@pytest.mark.parametrize("name", NAMES)
def test_html_is_a_self_contained_page(reports, name, tmp_path):
    path = tmp_path / f"{name}.html"
    page = reports[name].to_html(path)
    assert path.read_text(encoding="utf-8") == page
    assert page.startswith("<!doctype html>") and "<table" in page
    assert re.search(r'<img alt="[^"]+" src="data:image/png;base64,[A-Za-z0-9+/=]+">', page)
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<script" not in page and "incomplete:" not in page
    assert "complete: every scope was read" in page


def test_repr_html_for_notebooks(inventory):
    fragment = inventory._repr_html_()
    assert "<h1>CloudMC inventory</h1>" in fragment and "data:image/png;base64," in fragment
    assert "<html" not in fragment


@pytest.mark.parametrize("name", NAMES)
def test_chart_has_title_labelled_axes_and_units(reports, name, tmp_path):
    report = reports[name]
    ax = report.plot()
    assert ax.get_title()
    assert ax.get_ylabel()
    assert re.search(r"\[(count|% of ceiling|vCPU|GiB)\]", ax.get_xlabel())
    assert len(ax.patches) > 0
    png = report.to_png(tmp_path / f"{name}.png")
    assert png.startswith(PNG_MAGIC) and (tmp_path / f"{name}.png").read_bytes() == png


def test_plot_draws_on_a_given_axes_without_pyplot(capacity):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    ax = Figure().subplots()
    assert capacity.plot(ax=ax) is ax
    assert capacity.plot().figure is not ax.figure
    assert plt.get_fignums() == before
    assert matplotlib.get_backend().lower() == "agg"


def test_an_empty_chart_is_still_labelled(inventory):
    empty = type(inventory)(name="inventory", title="t", frame=inventory.frame.iloc[0:0],
                            summary=inventory.summary, issues=inventory.issues,
                            coverage=inventory.coverage, plotter=inventory.plotter)
    ax = empty.plot()
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert any("nothing to show" in t.get_text() for t in ax.texts)


@pytest.mark.parametrize("name", NAMES)
def test_no_api_key_in_any_rendering(reports, name, sb, tmp_path):
    report = reports[name]
    outputs = [report.to_text(), report.to_markdown(), report.to_html(), report.to_json(),
               report.to_csv(), report._repr_html_(), repr(report)]
    keys = [info.key for info in sb.keys]
    for text in outputs:
        assert not any(key in text for key in keys)


def test_report_repr_and_counts(audit):
    assert repr(audit).startswith("<Report audit: ") and "complete" in repr(audit)
    assert audit.complete and audit.failed_scopes == 0
    assert set(audit.coverage["status"].astype(str)) <= {"ok", "empty"}
    read = io.StringIO(audit.to_csv())
    assert len(pd.read_csv(read)) == len(audit.frame)


@pytest.mark.parametrize("name", NAMES)
def test_text_fits_120_columns(reports, name):
    text = reports[name].to_text()
    assert max(len(line) for line in text.splitlines()) <= 120


def test_text_keeps_ids_and_paths_whole(inventory):
    """A table too wide for 120 columns is cut into column blocks rather than cutting ids."""
    words = set(inventory.to_text().split())
    for column in ("organization_id", "organization_path"):
        assert set(inventory.frame[column].astype(str)) <= words


@pytest.mark.parametrize("name", NAMES)
def test_counts_are_integers_in_every_rendering(reports, name):
    report = reports[name]
    whole_float = re.compile(r"(?<![\w.])\d+\.0(?![\d])")
    for text in (report.to_text(), report.to_markdown(), report.to_csv(), report.to_html()):
        text = re.sub(r"base64,[A-Za-z0-9+/=]+", "", text)
        assert not whole_float.search(text), whole_float.search(text)
    document = json.loads(report.to_json())
    numbers = [v for row in document["rows"] + document["summary"] for v in row.values()
               if isinstance(v, float)]
    assert not any(v.is_integer() for v in numbers)


@pytest.mark.parametrize("name", NAMES)
def test_html_shows_missing_values_as_blank_or_dash(reports, name):
    page = reports[name].to_html()
    assert not re.search(r"<td[^>]*>(None|nan|NaN|&lt;NA&gt;|NaT)</td>", page)
    if name == "audit":
        assert "<th class=\"wrap\">suggested_action</th>" in page or ">suggested_action</th>" in page
        assert page.count("<details>") == int((reports[name].summary["findings"] > 0).sum())
