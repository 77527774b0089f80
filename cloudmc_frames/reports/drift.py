"""``drift(root, *, a="previous", b="latest")``: what changed in the estate between two snapshots.

New and removed instances and volumes per organization, resized instances, state changes, new
users without two-factor authentication, new organizations and quota changes, from
``cmf.diff`` on the snapshot files. What the newer snapshot could not read comes first: those
rows are neither "removed" nor "unchanged" (``not covered``, with the reason), and the report's
``issues`` are the newer snapshot's.

Example::

    >>> report = cmf.reports.drift("snapshots/")                       # doctest: +SKIP
    >>> report.summary; report.tables["per_organization"]; report.to_html("drift.html")
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd
from matplotlib.axes import Axes

from ..errors import ConfigError
from ..snapshots import diff as snapshot_diff
from ..snapshots import load
from ..snapshots.reader import check_root, resolve
from . import figures
from .report import Report

FRAME_COLUMNS = ("section", "organization_path", "subject", "detail", "old", "new")
SECTIONS: dict[str, str] = {
    "not covered": "rows of the older snapshot whose scope the newer one could not read",
    "new organizations": "organizations in the newer snapshot only",
    "removed organizations": "organizations gone from the tree (or deleted)",
    "instances added": "instances in the newer snapshot only",
    "instances removed": "instances gone from environments read completely",
    "instances resized": "vCPU or memory changed",
    "state changes": "power state changed (running, stopped, ...)",
    "volumes added": "volumes and disks in the newer snapshot only",
    "volumes removed": "volumes gone from environments read completely",
    "volumes resized": "size changed",
    "new users without 2FA": "users in the newer snapshot only, two-factor authentication off",
    "users removed": "users gone from organizations read completely",
    "quota changes": "ceilings added, removed or changed",
}
COMPARED = ("organizations", "instances", "volumes", "users", "quotas")


def drift(root: str | os.PathLike, *, a: Any = "previous", b: Any = "latest") -> Report:
    """The changes between snapshots ``a`` and ``b`` of ``root`` as a :class:`Report`.

    ``a``/``b``: snapshot ids, ``"previous"``/``"latest"``, or dates (as ``cmf.load``).

    >>> cmf.reports.drift("snapshots/", a="2026-11-01").to_text()        # doctest: +SKIP
    """
    path = check_root(root)
    older, newer = resolve(path, a), resolve(path, b)
    if older.snapshot_id > newer.snapshot_id:
        older, newer = newer, older
    diffs, notes = {}, []
    for name in COMPARED:
        try:
            diffs[name] = snapshot_diff(path, name, a=older.snapshot_id, b=newer.snapshot_id)
        except ConfigError as error:  # a collection one of the snapshots does not hold
            notes.append(f"{name}: not compared ({error})")
    names_b = {
        name: load(path, name, at=newer.snapshot_id, columns=["id", "name"])
        for name in ("instances", "volumes")
        if name in diffs
    }
    rows = _rows(diffs, names_b)
    frame = _frame(rows)
    summary = _summary(frame)
    issues = load(path, "issues", at=newer.snapshot_id) if "issues" in newer.collections else _empty_issues()
    coverage = load(path, "coverage", at=newer.snapshot_id) if "coverage" in newer.collections else None
    not_covered = sum(len(d.not_covered) for d in diffs.values())
    lead = (
        f"Not covered: {not_covered} rows of {older.snapshot_id} are in scopes {newer.snapshot_id} "
        "could not read; they are counted neither as removed nor as unchanged."
        if not_covered
        else f"Every scope of {newer.snapshot_id} behind these rows was read."
    )
    return Report(
        name="drift",
        title="CloudMC drift",
        frame=frame,
        summary=summary,
        issues=issues,
        coverage=coverage
        if coverage is not None
        else pd.DataFrame({"status": pd.Series([], dtype="string")}),
        plotter=plot_drift,
        tables={"per_organization": per_organization(diffs)},
        titles={"per_organization": "Per organization: added, removed, not covered"},
        notes=(lead, *notes, *(n for d in diffs.values() for n in d.notes)),
        views={"frame": FRAME_COLUMNS},
        scope=f"{older.snapshot_id}{f' ({older.label})' if older.label else ''} -> "
        f"{newer.snapshot_id}{f' ({newer.label})' if newer.label else ''}",
    )


def _rows(diffs: dict[str, Any], names_b: dict[str, pd.DataFrame]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(section: str, frame: pd.DataFrame, subject: str, detail: Any = None, **values: Any) -> None:
        for n, record in enumerate(frame.to_dict("records")):
            rows.append(
                {
                    "section": section,
                    "organization_path": record.get("organization_path"),
                    "subject": record.get(subject) or record.get("id"),
                    "detail": detail(record) if callable(detail) else detail,
                    **{k: (v[n] if isinstance(v, list) else v) for k, v in values.items()},
                }
            )

    for name, d in diffs.items():
        if len(d.not_covered):
            add(
                "not covered",
                d.not_covered.assign(_what=name),
                _subject(name),
                lambda r: f"{r['_what']}: {r['reason']}",
            )
    if "organizations" in diffs:
        orgs = diffs["organizations"]
        add("new organizations", orgs.added.assign(organization_path=orgs.added["path"]), "name")
        add("removed organizations", orgs.removed.assign(organization_path=orgs.removed["path"]), "name")
        deleted = orgs.changed[(orgs.changed["column"] == "deleted") & (orgs.changed["new"] == "true")]
        paths = _paths(orgs)
        rows.extend(
            {
                "section": "removed organizations",
                "organization_path": paths.get(r.id),
                "subject": paths.get(r.id, r.id),
                "detail": "deleted",
                "old": "false",
                "new": "true",
            }
            for r in deleted.itertuples(index=False)
        )
    for name, unit in (("instances", "instance"), ("volumes", "volume")):
        if name not in diffs:
            continue
        d = diffs[name]
        add(f"{name} added", d.added, "name", lambda r, u=unit: _where(r, u))
        add(f"{name} removed", d.removed, "name", lambda r, u=unit: _where(r, u))
    if "instances" in diffs:
        d = diffs["instances"]
        names = _names(d, names_b.get("instances"))
        for section, columns in (
            ("instances resized", ("vcpus", "memory_gib")),
            ("state changes", ("power_state",)),
        ):
            picked = d.changed[d.changed["column"].isin(columns)]
            rows.extend(
                {
                    "section": section,
                    "organization_path": names.get(r.id, (None, None))[1],
                    "subject": names.get(r.id, (r.id, None))[0],
                    "detail": r.column,
                    "old": r.old,
                    "new": r.new,
                }
                for r in picked.itertuples(index=False)
            )
    if "volumes" in diffs:
        d = diffs["volumes"]
        names = _names(d, names_b.get("volumes"))
        picked = d.changed[d.changed["column"] == "size_gib"]
        rows.extend(
            {
                "section": "volumes resized",
                "organization_path": names.get(r.id, (None, None))[1],
                "subject": names.get(r.id, (r.id, None))[0],
                "detail": "size_gib",
                "old": r.old,
                "new": r.new,
            }
            for r in picked.itertuples(index=False)
        )
    if "users" in diffs:
        d = diffs["users"]
        off = d.added[d.added["tfa_enabled"].eq(False).fillna(False).astype(bool)]
        add("new users without 2FA", off, "user_name", "two-factor authentication is off")
        add("users removed", d.removed, "user_name")
    if "quotas" in diffs:
        d = diffs["quotas"]
        add(
            "quota changes",
            d.added,
            "metric_identifier",
            "ceiling added",
            new=[_text(v) for v in d.added["ceiling"]],
        )
        add(
            "quota changes",
            d.removed,
            "metric_identifier",
            "ceiling removed",
            old=[_text(v) for v in d.removed["ceiling"]],
        )
        picked = d.changed[d.changed["column"] == "ceiling"]
        rows.extend(
            {
                "section": "quota changes",
                "organization_path": None,
                "subject": r.detail_id,
                "detail": "ceiling changed",
                "old": r.old,
                "new": r.new,
            }
            for r in picked.itertuples(index=False)
        )
    return rows


def _subject(collection: str) -> str:
    return {"users": "user_name", "quotas": "metric_identifier"}.get(collection, "name")


def _where(record: dict, unit: str) -> str:
    return f"{unit} in {record.get('environment_name') or '?'} ({record.get('service_code') or '?'})"


def _paths(d: Any) -> dict[str, str]:
    return dict(
        zip(
            d.summary["organization_id"].astype(object),
            d.summary["organization_path"].astype(object),
            strict=False,
        )
    )


def _names(d: Any, named: pd.DataFrame | None) -> dict[str, tuple[str, str]]:
    """``id -> (name, organization path)`` of the rows behind a diff's changes."""
    paths = _paths(d)
    names = (
        dict(zip(named["id"].astype(object), named["name"].astype(object), strict=False))
        if named is not None
        else {}
    )
    return {
        i: (names.get(i) or i, paths.get(o))
        for i, o in zip(
            d.changed["id"].astype(object) if "id" in d.changed else [],
            d.changed["organization_id"].astype(object),
            strict=False,
        )
    }


def _text(value: Any) -> str | None:
    return None if value is None or value is pd.NA or value != value else f"{float(value):g}"


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(FRAME_COLUMNS)).astype("string")
    order = {s: n for n, s in enumerate(SECTIONS)}
    frame["section"] = pd.Categorical(frame["section"].astype(object), categories=list(SECTIONS))
    return (
        frame.assign(_o=frame["section"].map(order).astype(int))
        .sort_values(["_o", "organization_path", "subject"], kind="stable", na_position="last")
        .drop(columns="_o")
        .reset_index(drop=True)
    )


def _summary(frame: pd.DataFrame) -> pd.DataFrame:
    counts = frame["section"].value_counts()
    return pd.DataFrame(
        {
            "section": pd.array(list(SECTIONS), dtype="string"),
            "count": pd.array([int(counts.get(s, 0)) for s in SECTIONS], dtype="Int64"),
            "meaning": pd.array(list(SECTIONS.values()), dtype="string"),
        }
    )


def per_organization(diffs: dict[str, Any]) -> pd.DataFrame:
    """Per organization: instances and volumes added and removed, and rows not covered."""
    parts = []
    for name in ("instances", "volumes"):
        if name in diffs:
            s = diffs[name].summary.set_index("organization_path")[["added", "removed", "not_covered"]]
            parts.append(s.add_prefix(f"{name}_"))
    if not parts:
        return pd.DataFrame({"organization_path": pd.array([], dtype="string")})
    table = pd.concat(parts, axis=1).fillna(0).astype("Int64")
    table = table[(table != 0).any(axis=1)]
    table.index = table.index.astype("string")
    return (
        table.rename_axis("organization_path")
        .reset_index()
        .sort_values("organization_path")
        .reset_index(drop=True)
    )


def _empty_issues() -> pd.DataFrame:
    from ..frames import issues_frame

    return issues_frame([])


def plot_drift(report: Report, ax: Axes) -> None:
    """Horizontal bars: how many rows each section has (not covered first)."""
    summary = report.summary[report.summary["count"] > 0]
    labels = summary["section"].astype(str).tolist()
    figures.hbars(
        ax,
        labels,
        {"rows": summary["count"].astype(float).tolist()},
        title="Changes between the two snapshots",
        xlabel="rows [count]",
        ylabel="section",
        colors={"rows": figures.PALETTE["low"]},
    )
