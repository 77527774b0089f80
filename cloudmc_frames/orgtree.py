"""The organization tree: rebuilt from ``GET /organizations`` and chosen from by ``orgs=``.

CloudMC has no tree endpoint: each organization names its ``parent``; an organization whose
parent is not visible to the key is a top. ``path`` joins entry points from the top down
(``acme/eu/paris``), and ``orgs=`` patterns are matched against it.
"""

from __future__ import annotations

import difflib
import fnmatch
import weakref
from collections.abc import Iterable
from typing import Any

import pandas as pd

from ._wire import Listing
from .client import Client
from .errors import ConfigError, ResponseFormatError
from .frames import build_frame


def organization_tree(client: Client, include_deleted: bool, fresh: bool,
                       deadline: float | None = None) -> tuple[pd.DataFrame, bool]:
    """The visible tree in path order, and whether it came from the cache.

    The list is always read with its deleted organizations (one request per client serves both
    views, and paths run through a deleted parent the same way in both).
    """
    listing = client.list("/organizations", {"include_deleted": True}, fresh=fresh, deadline=deadline)
    frame = _built_tree(client, listing)
    if not include_deleted:
        frame = frame[~frame["deleted"].fillna(False)].reset_index(drop=True)
    return frame, listing.from_cache


def _built_tree(client: Client, listing: Listing) -> pd.DataFrame:
    """The tree frame of ``listing``, built once per client for the same bytes (each accessor of a
    crawl reads the tree again: from memory, and now without rebuilding it)."""
    built = _TREES.get(client)
    if built is None or built[0] != listing.digest or not listing.digest:
        frame = build_frame("organizations", [({}, listing.records)])
        if frame["id"].isna().any() or frame["id"].duplicated().any():
            raise ResponseFormatError("the organization list has missing or repeated ids")
        frame["parent_id"], frame["depth"], frame["path"] = _tree_columns(frame)
        built = (listing.digest, frame.sort_values("path", kind="stable").reset_index(drop=True))
        _TREES[client] = built
    return built[1].copy()


_TREES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # client -> (listing digest, frame)


def _tree_columns(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Parent ids limited to visible organizations, depth from the top, and entry-point paths."""
    ids = frame["id"].tolist()
    visible = set(ids)
    parent = {i: p for i, p in zip(ids, frame["parent_id"].tolist(), strict=True) if p in visible}
    label = {i: _path_label(e, n)
             for i, e, n in zip(ids, frame["entry_point"].tolist(), frame["name"].tolist(), strict=True)}
    paths: dict[str, str] = {}
    for org in ids:
        chain, node = [], org
        while node is not None and node not in paths:
            if node in chain:
                raise ResponseFormatError(f"the organization tree has a cycle through {node}")
            chain.append(node)
            node = parent.get(node)
        prefix = paths[node] + "/" if node is not None else ""
        for member in reversed(chain):
            prefix = paths.setdefault(member, prefix + label[member]) + "/"
    depth = [paths[i].count("/") for i in ids]
    return (pd.array([parent.get(i) for i in ids], dtype="string"),
            pd.array(depth, dtype="Int64"), pd.array([paths[i] for i in ids], dtype="string"))


def _path_label(entry_point: Any, name: Any) -> str:
    text = entry_point if isinstance(entry_point, str) and entry_point else str(name)
    return text.replace("/", "_")


def select_organizations(tree: pd.DataFrame, orgs: Any) -> pd.DataFrame:
    """Rows of ``tree`` chosen by ``orgs`` (see :func:`users`); unknown ids or patterns raise.

    A pattern is matched against ``path`` with shell wildcards: ``"acme/eu"`` is one
    organization, ``"acme/eu/*"`` all below it, ``"acme/eu*"`` both. Patterns select live
    organizations only; a deleted one is chosen by its id (or a frame holding it).
    """
    if orgs is None:
        return tree[~tree["deleted"].fillna(False)].reset_index(drop=True)
    wanted = _wanted_ids(tree, orgs)
    order = {org_id: n for n, org_id in enumerate(tree["id"].tolist())}
    chosen = sorted(dict.fromkeys(wanted), key=order.__getitem__)
    return tree.set_index("id", drop=False).loc[chosen].reset_index(drop=True)


def _wanted_ids(tree: pd.DataFrame, orgs: Any) -> list[str]:
    if isinstance(orgs, pd.DataFrame):
        column = "organization_id" if "organization_id" in orgs else "id" if "id" in orgs else None
        if column is None:
            raise ConfigError("a frame given as orgs= needs an 'id' or 'organization_id' column")
        items: Iterable = orgs[column].dropna().astype(str).unique()
    elif isinstance(orgs, str):
        items = [orgs]
    elif isinstance(orgs, pd.Series | list | tuple | set | frozenset):
        items = list(orgs)
    else:
        raise ConfigError(f"orgs must be None, an id, a path pattern, a list of them or a frame of "
                          f"organizations, got {type(orgs).__name__}")
    live = tree[~tree["deleted"].fillna(False)]
    ids, paths = set(tree["id"].tolist()), list(zip(live["id"].tolist(), live["path"].tolist(), strict=True))
    wanted = []
    for item in items:
        if not isinstance(item, str):
            raise ConfigError(f"orgs items must be ids or path patterns (strings), got {item!r}")
        matched = [item] if item in ids else [i for i, p in paths if fnmatch.fnmatchcase(p, item)]
        if not matched:
            raise ConfigError(_no_match_message(item, [p for _, p in paths]))
        wanted.extend(matched)
    return wanted


def _no_match_message(item: str, paths: list[str]) -> str:
    close = difflib.get_close_matches(item, paths, n=3)
    if close:
        hint = f" Close paths: {', '.join(close)}."
    else:
        hint = f" Paths start with {paths[0]!r}." if paths else ""
    return (f"orgs={item!r} matches no organization id or path visible to this key.{hint} "
            "See cmf.organizations(client)[['id', 'path']]")
