"""The manifest: one JSON file per snapshot, written last and atomically; its presence marks the
snapshot complete. Reading lists every manifest of a root and every snapshot id that has files
but no manifest (incomplete: a crash, or shards still writing).

A manifest holds the snapshot's id, time, label, toolkit version, the endpoint and credential
fingerprints (one-way hashes, never the key), the organizations it selected and, per collection,
its files, row count, column kinds, schema fingerprint and field statistics (for schema drift),
plus the coverage summary and the issues count.

Example::

    >>> m = Manifest(snapshot_id="20261201T145501.000000Z-3fa2", taken_at="2026-12-01T14:55:01Z",
    ...              endpoint_fingerprint="ab", credential_fingerprint="cd")
    >>> Manifest.from_json(m.to_json()) == m
    True
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import SnapshotError
from . import layout

log = logging.getLogger("cloudmc_frames")


@dataclass(frozen=True)
class Manifest:
    """What one complete snapshot holds (see the module docstring)."""

    snapshot_id: str
    taken_at: str
    endpoint_fingerprint: str
    credential_fingerprint: str
    label: str | None = None
    toolkit_version: str = ""
    format: int = layout.FORMAT_VERSION
    selection: str = ""
    organization_ids: tuple[str, ...] = ()
    shards: int = 1
    collections: dict[str, dict[str, Any]] = field(default_factory=dict)
    coverage: dict[str, Any] = field(default_factory=dict)
    issues: int = 0

    def to_json(self) -> str:
        """The manifest as JSON text (schemas keep their column order)."""
        data = asdict(self)
        data["organization_ids"] = list(self.organization_ids)
        return json.dumps(data, indent=1, ensure_ascii=False)  # column order is meaningful

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Parse :meth:`to_json` output; ValueError/KeyError/TypeError when it is not one."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("a manifest is a JSON object")
        data["organization_ids"] = tuple(data.get("organization_ids") or ())
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def partial(self) -> bool:
        """True when some scope of the crawl could not be read."""
        return bool(self.issues) or not self.coverage.get("complete", True)

    def rows(self, collection: str) -> int:
        """Rows of ``collection`` in this snapshot (0 when it has none)."""
        return int(self.collections.get(collection, {}).get("rows", 0))


def write_manifest_file(root: Path, manifest: Manifest) -> Path:
    """Write ``manifest`` atomically (temporary file, fsync, rename); never over an existing one."""
    final = layout.manifest_path(root, manifest.snapshot_id)
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        raise SnapshotError(
            f"snapshot {manifest.snapshot_id} already has a manifest ({final}); snapshot ids are never reused"
        )
    temporary = final.with_name(f".{final.name}.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(manifest.to_json())
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, final)
    return final


def read_manifests(root: Path) -> list[Manifest]:
    """Every readable manifest of ``root``, oldest first; a damaged one is skipped with a warning
    naming it (its snapshot then counts as incomplete)."""
    folder = Path(root) / layout.MANIFESTS
    manifests = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        try:
            manifest = Manifest.from_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.warning(
                "snapshot manifest %s is unreadable (%s): that snapshot counts as incomplete", path, error
            )
            continue
        if manifest.snapshot_id != path.stem:
            log.warning(
                "snapshot manifest %s names another snapshot (%s): skipped", path, manifest.snapshot_id
            )
            continue
        manifests.append(manifest)
    return sorted(manifests, key=lambda m: m.snapshot_id)


def data_files(root: Path) -> dict[str, list[Path]]:
    """``snapshot_id -> its part files`` for every part file under ``root`` (any collection)."""
    found: dict[str, list[Path]] = {}
    for path in Path(root).glob(f"*/{layout.PARTITION}=*/*.parquet"):
        parsed = layout.parse_part_name(path.name)
        if parsed is not None:
            found.setdefault(parsed[0], []).append(path)
    return found


def incomplete_ids(root: Path, manifests: list[Manifest] | None = None) -> list[str]:
    """Snapshot ids with files but no (readable) manifest, oldest first."""
    done = {m.snapshot_id for m in (read_manifests(root) if manifests is None else manifests)}
    return sorted(sid for sid in data_files(root) if sid not in done)
