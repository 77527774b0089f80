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
