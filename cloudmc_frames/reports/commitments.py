"""Committed against actual: how much of each commitment the organization really used.

A committed product buys ``committed_amount`` units per hour (vCPU, GiB of memory) of one SKU
for a term. Over the part of the term that has passed (``[start_date, min(end_date, today))``,
UTC days), the committed capacity is ``committed_amount`` x hours and the actual usage is the
organization's usage of that SKU in CloudMC's pricing report
(:func:`cmf.pricing <cloudmc_frames.usage.pricing>`) over the same days. ``used_percent`` =
100 x actual / committed: under 100 the organization pays for capacity it does not use
(*under-used*), over 100 it uses more than it committed to and the rest is billed at the utility
price (*over-used*). Upcoming commitments have no past part and are left out.

Example::

    >>> table = commitment_use(client, commitments_frame, now=pd.Timestamp.now(tz="UTC"))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .. import usage as time_axis
from ..client import Client
from ..errors import ApiError, ResponseFormatError, TransportError
from .completeness import STATES, Completeness

USES = ("under-used", "as committed", "over-used")
TOLERANCE = 2.0  # percent either side of 100 that counts as "as committed"
COLUMNS = ("organization_path", "organization_id", "commitment_id", "commitment_name", "status",
           "pricing_method", "sku", "committed_amount", "window_start", "window_end", "hours", "committed",
           "actual", "used_percent", "unused", "over", "use")
VIEW = ("organization_path", "commitment_name", "status", "sku", "committed_amount", "window_start",
        "window_end", "committed", "actual", "used_percent", "use", "completeness")
MEASURES = ("actual", "used_percent", "unused", "over", "use")  # blank where the pricing report is unread


def commitment_use(client: Client, commitments: pd.DataFrame, *, now: Any = None,
                   crawl: dict | None = None) -> pd.DataFrame:
    """One row per committed product with a past part: committed capacity, actual usage, use.

    Reads one pricing report per organization and window (``crawl``: the accessors' options);
    ``now``: the clock (default: the current UTC time). A report that could not be read leaves
    ``actual`` and what follows from it ``<NA>`` (its issue row is in ``client.issues``), never 0.
    """
    windows = past_windows(commitments, pd.Timestamp.now(tz="UTC") if now is None else now)
    keys = zip(windows["organization_id"], windows["window_start"], windows["window_end"], strict=True)
    usage = {key: priced_usage(client, *key, crawl=crawl) for key in dict.fromkeys(keys)}
    actual = [None if usage[(o, lo, hi)] is None or not isinstance(s, str) else usage[(o, lo, hi)].get(s, 0.0)
              for o, lo, hi, s in zip(windows["organization_id"], windows["window_start"],
                                      windows["window_end"], windows["sku"], strict=True)]
    return use_frame(windows, actual)


def priced_usage(client: Client, org_id: str, start: pd.Timestamp, end: pd.Timestamp, *,
                 crawl: dict | None = None) -> dict[str, float] | None:
    """Usage per SKU in one organization's pricing report over ``[start, end)``; None when unread."""
    try:
        priced = time_axis.pricing(client, org_id, start=start, end=end, errors="raise", **(crawl or {}))
    except (ApiError, TransportError, ResponseFormatError):
        return None  # recorded as an issue and a coverage row of entity "pricing"
    return {str(k): float(v) for k, v in priced.groupby("sku")["usage"].sum().items()}


def marked(table: pd.DataFrame, completeness: Completeness, organizations: pd.DataFrame) -> pd.DataFrame:
    """``table`` with ``completeness``/``unread`` per row (its pricing report), and one ``not
    evaluated`` row for each of ``organizations`` whose commitments could not be read."""
    rows = completeness.mark(table, dict.fromkeys(MEASURES, ("pricing",)))
    blind = organizations[organizations["id"].isin(completeness.unread_orgs("commitments"))]
    missing = pd.DataFrame({"organization_path": blind["path"], "organization_id": blind["id"],
                            "completeness": STATES[2], "unread": "commitments"})
    joined = pd.concat([rows, missing], ignore_index=True) if len(missing) else rows
    return joined.astype(rows.dtypes.to_dict())[list(COLUMNS) + ["completeness", "unread"]]


def past_windows(commitments: pd.DataFrame, now: Any) -> pd.DataFrame:
    """The committed products whose term has begun, with the passed part of it (whole UTC days).

    >>> c = pd.DataFrame({"organization_id": ["o"], "start_date": [pd.Timestamp("2026-01-01", tz="UTC")],
    ...                   "end_date": [pd.Timestamp("2027-01-01", tz="UTC")]})
    >>> row = past_windows(c, pd.Timestamp("2026-03-15 10:00", tz="UTC")).iloc[0]
    >>> [row["window_start"], row["window_end"]]
    [Timestamp('2026-01-01 00:00:00+0000', tz='UTC'), Timestamp('2026-03-15 00:00:00+0000', tz='UTC')]
    """
    today = pd.Timestamp(now).tz_convert("UTC").normalize() if pd.Timestamp(now).tzinfo else \
        pd.Timestamp(now).tz_localize("UTC").normalize()
    frame = commitments.copy()
    frame["window_start"] = frame["start_date"].dt.tz_convert("UTC").dt.normalize()
    frame["window_end"] = frame["end_date"].dt.tz_convert("UTC").dt.normalize().clip(upper=today)
    began = (frame["window_start"] < frame["window_end"]).fillna(False).astype(bool)
    return frame[began].reset_index(drop=True)


def use_frame(windows: pd.DataFrame, actual: list) -> pd.DataFrame:
    """Committed capacity against ``actual`` usage (one value per row of ``windows``)."""
    hours = ((windows["window_end"] - windows["window_start"]) / pd.Timedelta(hours=1)).astype(float)
    amount = windows["committed_amount"].astype("Float64")
    committed = (amount * hours.to_numpy()).round(4)
    real = pd.array([pd.NA if a is None else a for a in actual], dtype="Float64")
    percent = (100 * real / committed.where(committed > 0)).round(1)
    use = np.where(percent.isna().to_numpy(), None,
                   np.where((percent < 100 - TOLERANCE).fillna(False).to_numpy(), USES[0],
                            np.where((percent > 100 + TOLERANCE).fillna(False).to_numpy(), USES[2],
                                     USES[1])))
    frame = pd.DataFrame({
        **{c: windows[c].astype("string") for c in ("organization_path", "organization_id", "commitment_id",
                                                    "commitment_name", "status", "pricing_method", "sku")},
        "committed_amount": amount, "window_start": windows["window_start"],
        "window_end": windows["window_end"], "hours": pd.array(hours.round().astype(int), dtype="Int64"),
        "committed": committed, "actual": real.round(4), "used_percent": percent,
        "unused": (committed - real).clip(lower=0).round(4),
        "over": (real - committed).clip(lower=0).round(4),
        "use": pd.Categorical(use, categories=USES)})
    return frame.sort_values(["organization_path", "commitment_name", "sku"], kind="stable").reset_index(
        drop=True)[list(COLUMNS)]
