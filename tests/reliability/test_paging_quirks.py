"""Servers that page badly (the sandbox's paging quirks), crawled over real HTTP: a row is never
dropped or duplicated without the scope it belongs to being named in ``client.issues``.

A server that refuses large page sizes (400 above a limit the client's one step down reaches) or
serves its own page size must give every row; a ``recordCount`` that lies may cost a scope, but
then an issue row says which (or, for the organization tree itself, the call raises). A 400 is
never taken for congestion.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd
import pytest

import cloudmc_frames as cmf
from cloudmc_frames.sandbox import PagingQuirks

from .conftest import ENTITIES, SUMMARY, crawl, make_client

SCOPE = ["organization_id", "environment_name"]


@pytest.fixture(scope="module")
def sb():
    with cmf.sandbox(orgs=12, seed=4) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def expected(sb):
    return crawl(sb.client())


@pytest.fixture
def quirks(sb):
    def set_quirks(**knobs):
        sb.paging = PagingQuirks(**knobs)
    yield set_quirks
    sb.paging = PagingQuirks()


def failed_scopes(client, entity: str) -> set[tuple]:
    """The scopes whose ``entity`` rows an issue accounts for: the scope's own issue, or (for
    service resources) its organization's environment list that could not be read."""
    issues = client.issues
    own = issues[issues["entity"] == entity]
    scopes = {(org, env if isinstance(env, str) else None)
              for org, env in zip(own["organization_id"], own["environment"], strict=True)}
    if entity in ("instances", "volumes"):
        lists = issues[(issues["accessor"] == "resources") & (issues["entity"] == "environments")]
        scopes |= {(org, None) for org in lists["organization_id"]}
    return scopes


def scope_of(frame: pd.DataFrame) -> list[tuple]:
    envs = frame["environment_name"] if "environment_name" in frame else [None] * len(frame)
    return [(org, env if isinstance(env, str) else None) for org, env in zip(frame["organization_id"], envs,
                                                                              strict=True)]


def assert_nothing_lost_silently(client, got: dict, expected: dict) -> int:
    """Every row of every scope without an issue is there exactly once; returns rows missing."""
    missing = 0
    for name in ENTITIES[1:]:
        failed = failed_scopes(client, name)
        want = Counter(i for i, s in zip(expected[name]["id"], scope_of(expected[name]), strict=True)
                       if s not in failed and (s[0], None) not in failed)
        have = Counter(got[name]["id"])
        assert have == want, f"{name}: rows differ outside the scopes named in client.issues"
        missing += len(expected[name]) - len(got[name])
    return missing


@pytest.mark.parametrize("knobs, page_size", [
    ({"max_page_size": 100}, None),
    ({"served_page_size": 7}, None),
    ({"served_page_size": 3, "max_page_size": 40}, 10),
], ids=["refuses-above-100", "serves-its-own-7", "serves-3-refuses-above-40"])
def test_page_size_quirks_keep_every_row(sb, expected, quirks, knobs, page_size):
    quirks(**knobs)
    client = make_client(sb, **({"page_size": page_size} if page_size else {}))
    got = crawl(client)
    for name in ENTITIES:
        pd.testing.assert_frame_equal(got[name], expected[name], obj=f"{name} {knobs}")
    assert client.issues.empty, client.issues[["entity", "message"]].to_string()
    assert client.throttle.stats["signals"] == 0  # the refused page sizes (400) are no congestion
    SUMMARY["paging quirks: crawls with every row"] += 1


@pytest.mark.parametrize("skew, page_size", [(-3, None), (-1, 5), (4, None), (2, 5)],
                         ids=["count-3-low", "count-1-low-paged-by-5", "count-4-high",
                              "count-2-high-paged-by-5"])
def test_a_lying_record_count_never_drops_or_duplicates_a_row_silently(sb, expected, quirks, skew, page_size):
    client = make_client(sb, **({"page_size": page_size} if page_size else {}))
    cmf.organizations(client)  # the tree, read before the server starts to lie (once per client)
    quirks(record_count_skew=skew)
    got = crawl(client)
    missing = assert_nothing_lost_silently(client, got, expected)
    if missing:
        assert set(client.issues["exception"]) == {"ResponseFormatError"}
        assert client.issues["message"].str.contains("recordCount|records").all()
    SUMMARY["paging quirks: lying counts, rows missing and named"] += missing


def test_an_organization_tree_with_a_lying_count_is_refused_with_a_clear_error(sb, quirks):
    quirks(record_count_skew=-2)
    with pytest.raises(cmf.ResponseFormatError, match="recordCount=") as info:
        cmf.users(make_client(sb))
    assert "\n" not in str(info.value) and "/organizations" in str(info.value)
