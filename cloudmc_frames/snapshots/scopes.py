"""Which scope each row of a collection comes from, and whether a snapshot read it completely.

Pure functions over frames (no files, no sockets). A row's *scope* is what one request read:
the organization tree (``organizations``), one organization (``users``, ``quotas``,
``environments``, ...), or one environment of one organization (``environment_members``,
``instances``, ``volumes`` and every other service resource). A snapshot's ``coverage`` frame
has one row per scope it visited, with a ``collection`` column.

:func:`verdicts` answers, for rows of snapshot *a* missing from snapshot *b*: was the row's scope
read completely in *b* (then the row was really removed), or not (then it is ``not_covered``,
with the reason from *b*'s issues)? The order of the checks:

1. the row's own scope in *b*: ``ok``/``empty`` -> read; any other status -> not covered;
2. for environment scopes not visited in *b*: the organization's environment list in *b*: read
   -> the environment is gone, so are its rows; failed -> not covered;
3. an organization *b* did not visit: gone from *b*'s tree or deleted there -> removed;
   otherwise it was outside *b*'s selection (``orgs=``) -> not covered.

Example::

    >>> cov = pd.DataFrame({"collection": ["users"], "organization_id": ["o1"], "environment": [None],
    ...                     "entity": ["users"], "status": ["forbidden"]})
    >>> rows = pd.DataFrame({"organization_id": ["o1", "o2"]})
    >>> tree = pd.DataFrame({"id": ["o1"], "deleted": [False]})
    >>> verdicts(rows, "users", coverage=cov, issues=None, tree=tree,
    ...          selected=["o1"]).tolist()
    ['forbidden', 'organization gone from the tree']
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

READ = frozenset({"ok", "empty"})
ORG_LEVEL = frozenset(
    {"users", "quotas", "environments", "activity_log", "service_connections", "usage_summary"}
)
TREE_LEVEL = frozenset({"organizations"})
GONE = "organization gone from the tree"  # not a reason to keep: such rows were removed


def level(collection: str) -> str:
    """``"tree"``, ``"org"`` or ``"env"``: the scope a row of ``collection`` was read in."""
    if collection in TREE_LEVEL:
        return "tree"
    return "org" if collection in ORG_LEVEL else "env"


def scope_columns(collection: str) -> tuple[str, ...]:
    """The row columns that name a row's scope."""
    return {"tree": (), "org": ("organization_id",), "env": ("organization_id", "environment_name")}[
        level(collection)
    ]


def verdicts(
    rows: pd.DataFrame,
    collection: str,
    *,
    coverage: pd.DataFrame | None,
    issues: pd.DataFrame | None,
    tree: pd.DataFrame | None,
    selected: Sequence[str] | None,
) -> pd.Series:
    """Per row: None when its scope was read completely, else why not (one line).

    The special value :data:`GONE` (its organization left the tree) also means "read": callers
    treat it as removed.
    """
    out = pd.Series([None] * len(rows), index=rows.index, dtype=object)
    if not len(rows):
        return out
    if coverage is None:
        out[:] = "no coverage of the newer side was given"
        return out
    cov = (
        coverage[coverage["collection"].astype(object) == collection]
        if "collection" in coverage
        else coverage
    )
    reasons = _reasons(cov, issues)
    kind = level(collection)
    if kind == "tree":
        statuses = [s for s in cov["status"].astype(object) if isinstance(s, str)]
        if not statuses:
            out[:] = "the organization tree was not read"
        elif not set(statuses) <= READ:
            out[:] = reasons.get((None, None), statuses[-1])
        return out
    live, known = _tree_sets(tree)
    chosen = set(selected) if selected is not None else None
    entity = "environments" if kind == "org" and collection == "environments" else collection
    own = _status_map(cov[cov["entity"].astype(object) == entity], env=kind == "env")
    parents = _status_map(cov[cov["entity"].astype(object) == "environments"], env=False)
    orgs = [_text(v) for v in rows["organization_id"].astype(object)]
    envs = (
        [_text(v) for v in rows["environment_name"].astype(object)]
        if kind == "env" and "environment_name" in rows
        else [None] * len(rows)
    )
    result = []
    for org, env in zip(orgs, envs, strict=False):
        status = own.get((org, env))
        if status is not None:
            result.append(None if status in READ else reasons.get((org, env), status))
            continue
        parent = parents.get((org, None)) if kind == "env" else None
        if parent is not None:
            result.append(
                None if parent in READ else f"environments unreadable: {reasons.get((org, None), parent)}"
            )
        elif org not in known or org not in live:
            result.append(GONE)
        elif chosen is not None and org not in chosen:
            result.append("organization not selected in this snapshot (orgs=)")
        else:
            result.append("scope not read in this snapshot")
    out[:] = result
    return out


def _status_map(cov: pd.DataFrame, *, env: bool) -> dict[tuple, str]:
    """``(organization_id, environment or None) -> worst status`` (a failure beats a success)."""
    found: dict[tuple, str] = {}
    environments = cov["environment"].astype(object) if env else [None] * len(cov)
    for org, environment, status in zip(
        cov["organization_id"].astype(object), environments, cov["status"].astype(object), strict=False
    ):
        key = (_text(org), _text(environment))
        if found.get(key) not in (None, *READ):
            continue
        found[key] = status
    return found


def _reasons(cov: pd.DataFrame, issues: pd.DataFrame | None) -> dict[tuple, str]:
    """``(organization_id, environment) -> "status: message"`` from the issues frame."""
    if issues is None or not len(issues):
        return {}
    status_of = {
        (_text(o), _text(e)): s
        for o, e, s in zip(
            cov["organization_id"].astype(object),
            cov["environment"].astype(object),
            cov["status"].astype(object),
            strict=False,
        )
    }
    reasons = {}
    for org, env, message in zip(
        issues["organization_id"].astype(object),
        issues["environment"].astype(object),
        issues["message"].astype(object),
        strict=False,
    ):
        key = (_text(org), _text(env))
        status = status_of.get(key, "error")
        reasons[key] = f"{status}: {' '.join(str(message).split())}"
    return reasons


def _text(value: object) -> str | None:
    """A text value, or None for any missing marker (None, NaN, pd.NA)."""
    return value if isinstance(value, str) else None


def _tree_sets(tree: pd.DataFrame | None) -> tuple[set, set]:
    """(live organization ids, every id) of a snapshot's organizations frame."""
    if tree is None or not len(tree):
        return set(), set()
    ids = tree["id"].astype(object)
    deleted = (
        tree["deleted"].fillna(False).astype(bool)
        if "deleted" in tree
        else pd.Series(False, index=tree.index)
    )
    return set(ids[~deleted.to_numpy()]), set(ids)
