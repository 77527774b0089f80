"""Where a snapshot's files live, and what they are called (pure: paths and names, no I/O).

::

    <root>/<collection>/snapshot_date=YYYY-MM-DD/<snapshot_id>-<shard>-<part>.parquet
    <root>/_manifests/<snapshot_id>.json        # written last; no manifest = incomplete

Partitioned by date only (an ISO date has no ``:``; about 365 partitions a year). A snapshot id
is its UTC time to the microsecond plus a random token (``20261201T145501.123456Z-3fa2c01b``): ids
sort by time, and two snapshots taken in the same second never share a file name.

Example::

    >>> sid = snapshot_id(pd.Timestamp("2026-12-01 14:55:01.5", tz="UTC"), token="3fa2")
    >>> sid, part_name(sid, shard=1, part=0)
    ('20261201T145501.500000Z-3fa2', '20261201T145501.500000Z-3fa2-001-000.parquet')
    >>> taken_at_of(sid)
    Timestamp('2026-12-01 14:55:01.500000+0000', tz='UTC')
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pandas as pd

MANIFESTS = "_manifests"
PARTITION = "snapshot_date"
FORMAT_VERSION = 1
# Per-row columns every snapshot file carries (after the collection's own columns).
ROW_COLUMNS: dict[str, str] = {
    "snapshot_id": "string",
    "snapshot_at": "datetime",
    "fetched_at": "datetime",
    "from_cache": "boolean",
}
_ID = re.compile(r"^(\d{8}T\d{6}\.\d{6})Z-([0-9a-f]{4,})$")
_PART = re.compile(r"^(?P<id>\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{4,})-(?P<shard>\d{3,})-(?P<part>\d{3,})\.parquet$")
_COLLECTION = re.compile(r"^[a-z][a-z0-9_]*$")


def snapshot_id(taken_at: pd.Timestamp, *, token: str | None = None) -> str:
    """A new snapshot id for ``taken_at`` (UTC): sortable, no ``:``, unique per call."""
    stamp = pd.Timestamp(taken_at).tz_convert("UTC")
    return f"{stamp.strftime('%Y%m%dT%H%M%S.%f')}Z-{token or secrets.token_hex(4)}"


def is_snapshot_id(text: object) -> bool:
    """Whether ``text`` has the shape of a snapshot id."""
    return isinstance(text, str) and _ID.match(text) is not None


def taken_at_of(sid: str) -> pd.Timestamp:
    """The UTC time a snapshot id was made for."""
    match = _ID.match(sid)
    if match is None:
        raise ValueError(f"not a snapshot id: {sid!r}")
    return pd.Timestamp(pd.to_datetime(match.group(1), format="%Y%m%dT%H%M%S.%f")).tz_localize("UTC")


def snapshot_date(taken_at: pd.Timestamp) -> str:
    """The partition value of a snapshot: its UTC date, ``YYYY-MM-DD``."""
    return pd.Timestamp(taken_at).tz_convert("UTC").strftime("%Y-%m-%d")


def check_collection(name: object) -> str:
    """``name`` if it can be a folder name (lower-case letters, digits, ``_``), else ValueError."""
    if not isinstance(name, str) or not _COLLECTION.match(name) or name.startswith("_"):
        raise ValueError(f"collection names are lower-case words (letters, digits, _), got {name!r}")
    return name


def partition_dir(root: Path, collection: str, taken_at: pd.Timestamp) -> Path:
    """``<root>/<collection>/snapshot_date=YYYY-MM-DD``."""
    return Path(root) / check_collection(collection) / f"{PARTITION}={snapshot_date(taken_at)}"


def part_name(sid: str, *, shard: int, part: int) -> str:
    """The file name of one part of one shard of a snapshot."""
    return f"{sid}-{shard:03d}-{part:03d}.parquet"


def parse_part_name(name: str) -> tuple[str, int, int] | None:
    """``(snapshot_id, shard, part)`` of a part file name, or None for any other file."""
    match = _PART.match(name)
    return (match["id"], int(match["shard"]), int(match["part"])) if match else None


def manifest_path(root: Path, sid: str) -> Path:
    """``<root>/_manifests/<snapshot_id>.json``."""
    return Path(root) / MANIFESTS / f"{sid}.json"
