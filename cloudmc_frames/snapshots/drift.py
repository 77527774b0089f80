"""Schema drift: fields that appear, vanish, change type, or take new values, snapshot to snapshot.

Decided per snapshot and per provider (``connection_type``), never per record, from the field
statistics each manifest keeps (:func:`~cloudmc_frames.snapshots.schema.field_stats`):

* ``added``: a column the previous snapshot did not have (a field the server started sending);
* ``removed``: a field some records had, that no record of the same provider has now, while
  that provider still has records and every scope of the collection was read (a failed scope
  could be hiding it);
* ``type_changed``: a column whose kind changed (``Int64`` -> ``string``, ...);
* ``new_value``: a state (``state``/``power_state``) never seen in an earlier snapshot; ``warn``
  when it is an instance state the toolkit cannot map (its ``power_state`` is ``unknown``).

Severities: ``info`` (compatible), ``warn`` (look at it), ``error`` (a type changed). On a live
crawl (``cmf.snapshot``) each new (collection, field, change) is logged once per session.

Example::

    >>> before = {"schema": {"id": "string"}, "stats": {"": {"rows": 2, "present": {"id": 2}, "values": {}}}}
    >>> after = {"schema": {"id": "string", "zone": "string"},
    ...          "stats": {"": {"rows": 2, "present": {"id": 2, "zone": 2}, "values": {}}}}
    >>> [(r["field"], r["change"], r["severity"]) for r in classify("users", before, after, snapshot_id="s2")]
    [('zone', 'added', 'info')]
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import pandas as pd

from .. import catalog
from ..errors import ConfigError
from .manifest import Manifest, read_manifests
from .schema import field_stats, schema_of

log = logging.getLogger("cloudmc_frames")

DRIFT_COLUMNS = (
    "collection",
    "field",
    "change",
    "old",
    "new",
    "provider",
    "first_snapshot",
    "records",
    "severity",
)
CHANGES = ("added", "removed", "type_changed", "new_value")
SEVERITIES = ("info", "warn", "error")
IGNORED = frozenset({"snapshot_id", "snapshot_at", "fetched_at", "from_cache"})
FREE_FORM = ("custom_fields_",)  # fields of free-form objects (customFields): not schema drift
_WARNED: set[tuple[str, str, str]] = set()  # (collection, field, change) already logged


def classify(
    collection: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any],
    *,
    snapshot_id: str,
    covered: bool = True,
    seen_values: Mapping[str, Mapping[str, set]] | None = None,
) -> list[dict[str, Any]]:
    """The drift rows from one snapshot's collection entry to the next (pure).

    ``before``/``after``: manifest entries (``schema`` and ``stats``); ``covered``: every scope of
    the collection was read in ``after``; ``seen_values``: ``provider -> column -> values`` seen in
    any earlier snapshot (default: ``before``'s).
    """
    rows: list[dict[str, Any]] = []
    if before is None:
        return rows
    old_schema, new_schema = dict(before.get("schema", {})), dict(after.get("schema", {}))
    old_stats, new_stats = before.get("stats", {}), after.get("stats", {})

    def row(field: str, change: str, old: Any, new: Any, provider: str, records: int, severity: str):
        rows.append(
            {
                "collection": collection,
                "field": field,
                "change": change,
                "old": old,
                "new": new,
                "provider": provider or None,
                "first_snapshot": snapshot_id,
                "records": records,
                "severity": severity,
            }
        )

    for name, kind in new_schema.items():
        if name in IGNORED or name.startswith(FREE_FORM):
            continue
        if name not in old_schema:
            row(name, "added", None, kind, "", _present(new_stats, name), "info")
        elif old_schema[name] != kind:
            row(name, "type_changed", old_schema[name], kind, "", _present(new_stats, name), "error")
    documented = set(catalog.SCHEMAS.get(collection, {}))
    for provider, facts in old_stats.items():
        now = new_stats.get(provider)
        if not covered or not now or not now.get("rows"):
            continue
        for name, count in facts.get("present", {}).items():
            if (
                name in IGNORED
                or name.startswith(FREE_FORM)
                or not count
                or now.get("present", {}).get(name, 0)
            ):
                continue
            row(
                name,
                "removed",
                "present",
                "absent",
                provider,
                int(now["rows"]),
                "warn" if name in documented else "info",
            )
    seen = (
        seen_values
        if seen_values is not None
        else {p: {c: set(v) for c, v in f.get("values", {}).items()} for p, f in old_stats.items()}
    )
    for provider, facts in new_stats.items():
        for column, counts in facts.get("values", {}).items():
            earlier = seen.get(provider, {}).get(column, set())
            for value, count in sorted(counts.items()):
                if value in earlier:
                    continue
                unknown = (
                    collection == "instances"
                    and column == "state"
                    and value.lower() not in catalog.POWER_STATE_OF
                )
                row(column, "new_value", None, value, provider, int(count), "warn" if unknown else "info")
    return rows


def _present(stats: Mapping[str, Any], name: str) -> int:
    return sum(int(f.get("present", {}).get(name, 0)) for f in stats.values())


def drift_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Drift rows as a typed frame (columns :data:`DRIFT_COLUMNS`)."""
    frame = pd.DataFrame(rows, columns=list(DRIFT_COLUMNS))
    frame = frame.astype({c: "string" for c in DRIFT_COLUMNS if c not in ("records",)})
    frame["records"] = frame["records"].astype("Int64")
    frame["change"] = pd.Categorical(frame["change"].astype(object), categories=CHANGES)
    frame["severity"] = pd.Categorical(frame["severity"].astype(object), categories=SEVERITIES, ordered=True)
    return frame.reset_index(drop=True)


def across(manifests: list[Manifest]) -> pd.DataFrame:
    """Drift between consecutive snapshots, oldest first (each change at its first snapshot)."""
    rows: list[dict[str, Any]] = []
    seen: dict[str, dict[str, dict[str, set]]] = {}  # collection -> provider -> column -> values
    previous: Manifest | None = None
    for manifest in manifests:
        for collection, entry in manifest.collections.items():
            if collection in ("issues", "coverage"):
                continue
            before = previous.collections.get(collection) if previous else None
            failed = manifest.coverage.get("by_collection", {}).get(collection, {}).get("failed", 0)
            earlier = seen.setdefault(collection, {})
            rows += classify(
                collection,
                before,
                entry,
                snapshot_id=manifest.snapshot_id,
                covered=not failed,
                seen_values=earlier,
            )
            for provider, facts in entry.get("stats", {}).items():
                for column, counts in facts.get("values", {}).items():
                    earlier.setdefault(provider, {}).setdefault(column, set()).update(counts)
        previous = manifest
    return drift_frame(rows)


def schema_drift(source: Any, *, baseline: Any = None) -> pd.DataFrame:
    """Schema drift of a snapshot root, or of a live crawl against a baseline, as a frame.

    ``source``: a snapshot root (drift between its consecutive snapshots), or a mapping
    ``collection -> frame`` from a live crawl, compared with ``baseline`` (a root: its latest
    snapshot) or, without one, with the documented columns (new fields only). One row per
    (collection, field, change): :data:`DRIFT_COLUMNS`.

    >>> cmf.schema_drift("snapshots/").query("severity != 'info'")            # doctest: +SKIP
    """
    from .reader import check_root

    if isinstance(source, Mapping):
        previous = None
        if baseline is not None:
            manifests = read_manifests(check_root(baseline))
            previous = manifests[-1] if manifests else None
        return drift_frame(live_rows(entries_of(source), previous))
    if not isinstance(source, str | os.PathLike):
        raise ConfigError(
            "schema_drift takes a snapshot root or a mapping of collection -> frame, "
            f"got {type(source).__name__}"
        )
    manifests = read_manifests(check_root(source))
    keys = {m.credential_fingerprint for m in manifests}
    if len(keys) > 1:
        raise ConfigError(
            f"{source} holds snapshots of {len(keys)} endpoints or keys: drift is only meaningful within one"
        )
    return across(manifests)


def entries_of(frames: Mapping[str, pd.DataFrame]) -> dict[str, dict[str, Any]]:
    """``collection -> {"schema", "stats"}`` of freshly crawled frames (as a manifest holds them)."""
    return {name: {"schema": schema_of(frame), "stats": field_stats(frame)} for name, frame in frames.items()}


def live_rows(entries: Mapping[str, Mapping[str, Any]], previous: Manifest | None) -> list[dict[str, Any]]:
    """Drift rows of a fresh crawl's entries against the last snapshot (or the documented columns)."""
    rows: list[dict[str, Any]] = []
    for collection, entry in entries.items():
        if collection in ("issues", "coverage"):
            continue
        before = previous.collections.get(collection) if previous is not None else None
        if before is None and collection in catalog.SCHEMAS:
            documented = {
                **catalog.SCHEMAS[collection],
                **{c: entry["schema"][c] for c in IGNORED if c in entry["schema"]},
            }
            before = {"schema": {c: entry["schema"].get(c, k) for c, k in documented.items()}, "stats": {}}
        found = classify(collection, before, entry, snapshot_id="(live)")
        if previous is None or collection not in previous.collections:  # no states to compare with
            found = [r for r in found if r["change"] != "new_value"]
        rows += found
    return rows


def warn_live(entries: Mapping[str, Any], previous: Manifest | None) -> pd.DataFrame:
    """Log one warning per new (collection, field, change) this session; return the drift rows.

    ``entries``: ``collection -> {"schema", "stats"}`` (see :func:`entries_of`), or frames.
    """
    if any(isinstance(v, pd.DataFrame) for v in entries.values()):
        entries = entries_of(entries)
    frame = drift_frame(live_rows(entries, previous))
    fresh = 0
    for row in frame.itertuples(index=False):
        key = (row.collection, row.field, row.change)
        if key in _WARNED:
            continue
        _WARNED.add(key)
        fresh += 1
        what = {
            "added": f"is new ({row.new})",
            "removed": "is no longer sent",
            "type_changed": f"changed type ({row.old} -> {row.new})",
            "new_value": f"has a new value {row.new!r}",
        }[row.change]
        provider = f" from {row.provider}" if isinstance(row.provider, str) else ""
        log.warning(
            "schema drift in %s%s: field %r %s [%s]", row.collection, provider, row.field, what, row.severity
        )
    if fresh:
        log.warning("schema drift: %d new change(s) this session; see cmf.schema_drift(root)", fresh)
    return frame
