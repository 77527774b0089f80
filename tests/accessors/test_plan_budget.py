"""Plans and budgets over real HTTP: a plan predicts the calls a crawl sends; budget= holds a crawl to it."""

from __future__ import annotations

import pandas as pd
import pytest

import cloudmc_frames as cmf
from tests.accessors.conftest import expected_users

COLLECTIONS = ("instances", "volumes", "users")


def crawl(client, **kw) -> dict[str, pd.DataFrame]:
    return {name: getattr(cmf, name)(client, progress=False, **kw) for name in COLLECTIONS}


def sent(client) -> int:
    return client.stats["sent"]


def test_a_plan_predicts_exactly_the_network_calls_of_the_crawl_and_sends_none_of_them(sb, tmp_path):
    client = sb.client(cache_backend="sqlite", cache_dir=str(tmp_path / "c"))
    plan = cmf.plan(client, COLLECTIONS)
    discovery = sent(client)
    assert plan.totals["cache_hits"] == 0 and plan.totals["network_calls"] > 0
    assert set(plan.calls["collection"]) == set(COLLECTIONS)
    assert plan.calls["network_calls"].sum() == plan.totals["network_calls"]
    crawl(client)
    assert sent(client) - discovery == plan.totals["network_calls"]
    again = cmf.plan(client, COLLECTIONS)
    assert again.totals["network_calls"] == 0
    assert again.totals["cache_hits"] == plan.calls["scopes"].sum()


def test_pages_come_from_the_last_crawl_so_multi_page_scopes_are_counted(sb, tmp_path):
    first = sb.client(page_size=3, cache_dir=str(tmp_path / "a"))
    crawl(first)
    second = sb.client(page_size=3, cache_dir=str(tmp_path / "b"))
    plan = cmf.plan(second, COLLECTIONS, history=first.coverage)
    assert plan.calls["from_history"].sum() == plan.calls["scopes"].sum()
    assert plan.totals["calls"] > plan.calls["scopes"].sum()  # some scopes hold more than a page
    before = sent(second)
    crawl(second)
    assert sent(second) - before == plan.totals["network_calls"]


def test_check_raises_before_anything_is_sent(sb):
    client = sb.client()
    plan = cmf.plan(client, COLLECTIONS)
    before = sent(client)
    with pytest.raises(cmf.BudgetExceededError, match=r"needs \d+ network calls, over max_calls=10"):
        plan.check(max_calls=10)
    assert plan.check(max_calls=plan.totals["network_calls"]) is plan
    assert sent(client) == before


def test_an_eta_is_none_until_a_call_was_measured(sb):
    client = sb.client()
    plan = cmf.plan(client, ["users"], history=client.coverage.iloc[0:0])
    assert plan.totals["eta"] is None and "ETA unknown" in repr(plan)
    with pytest.raises(cmf.BudgetExceededError, match="cannot be checked: no call was measured"):
        plan.check(max_minutes=1)
    measured = cmf.plan(client, ["users"])  # the discovery reads measured the link
    assert isinstance(measured.totals["eta"], pd.Timedelta) and measured.check(max_minutes=60)


@pytest.mark.parametrize("bad", [["nope"], [], "", [3]], ids=["unknown", "empty", "empty-string", "number"])
def test_bad_collections_are_refused(sb, bad):
    with pytest.raises(cmf.ConfigError):
        cmf.plan(sb.client(), bad)


def test_budget_zero_on_a_cold_client_refuses_without_sending(sb):
    client = sb.client()
    with pytest.raises(cmf.BudgetExceededError, match="organization tree"):
        cmf.users(client, budget=0)
    assert sent(client) == 0


def test_a_budget_stops_the_crawl_cleanly_and_says_what_was_not_read(sb):
    client = sb.client()
    users = cmf.users(client, budget=5, progress=False)
    assert sent(client) == 5  # the tree and four organizations
    coverage = client.coverage
    skipped = coverage[coverage["status"] == "skipped_budget"]
    read = coverage[coverage["status"].isin(["ok", "empty"])]
    assert len(read) == 4 and len(skipped) == len(coverage) - 4
    issues = client.issues
    assert set(issues["exception"]) == {"BudgetExceededError"} and len(issues) == len(skipped)
    assert all("budget of 5 network calls" in m for m in issues["message"])
    expected = [r for r in expected_users(sb.store, sb.api_key) if r[0] in set(read["organization_id"])]
    assert sorted(zip(users["organization_id"], users["id"], strict=True)) == expected


def test_budget_zero_reads_what_is_cached(sb):
    client = sb.client()
    full = cmf.users(client, progress=False)
    before = sent(client)
    again = cmf.users(client, budget=0, progress=False)
    assert sent(client) == before
    pd.testing.assert_frame_equal(full, again)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "10"], ids=["negative", "float", "bool", "text"])
def test_bad_budgets_are_refused(sb, bad):
    with pytest.raises(cmf.ConfigError, match="budget must be"):
        cmf.users(sb.client(), budget=bad)
