"""Plain-text tables fit 120 columns without cutting the key column or names before prose."""

from __future__ import annotations

import pandas as pd

from cloudmc_frames.reports.textfit import MIN_WRAP, fit_table, wrap_limits

PATHS = [f"nimbus-cloud/cyberdyne-systems/tyrell-corp/black-mesa-{n:02d}-operations" for n in range(3)]
NAMES = [f"service-connection-{n}-compute-quebec-x" for n in range(3)]
PROSE = ["two-factor authentication is off on an administrator of this organization"] * 3


def table() -> pd.DataFrame:
    return pd.DataFrame({"organization_path": PATHS, "connection": NAMES, "detail": PROSE})


def test_the_key_column_never_wraps_and_every_line_fits():
    text = fit_table(table(), ["left", "left", "left"], width=120)
    assert max(len(line) for line in text.splitlines()) <= 120
    lines = text.splitlines()
    assert all(any(line.startswith(path) for line in lines) for path in PATHS)


def test_prose_gives_way_below_its_first_floor_before_names_wrap():
    limits = wrap_limits(table(), ["left", "left", "left"], 120)
    assert limits[0] is None
    assert limits[2] is not None and limits[2] >= MIN_WRAP
    widths = [max(len(v) for v in table()[c]) for c in table().columns]
    wrapped_names = limits[1] is not None and limits[1] < widths[1]
    assert not wrapped_names or limits[2] == MIN_WRAP


def test_a_table_cut_into_column_blocks_keeps_names_whole():
    ids = {f"id_{n}": [f"{n:08d}-0935-4fdb-bbef-ee55a34b2d2{r}" for r in range(3)] for n in range(7)}
    frame = pd.DataFrame({"organization_path": PATHS, **ids})
    text = fit_table(frame, ["left"] * len(frame.columns), width=120)
    assert max(len(line) for line in text.splitlines()) <= 120
    words = set(text.split())
    assert all(value in words for column in ids.values() for value in column)


def test_a_too_wide_table_says_a_column_with_one_value_once_above_it():
    from cloudmc_frames.reports.render import table_text

    frame = table().assign(completeness="complete", used=[1, 2, 3])
    text = table_text(frame, "simple", lift=True)
    assert text.splitlines()[0] == "   completeness: complete"
    assert "complete" not in "\n".join(text.splitlines()[1:])
    narrow = table_text(frame[["organization_path", "completeness", "used"]], "simple", lift=True)  # fits
    listing = table_text(frame, "simple")  # a listing keeps its columns
    assert "completeness:" not in listing and "completeness" in listing.split()
    assert narrow.splitlines()[0].split() == ["organization_path", "completeness", "used"]
