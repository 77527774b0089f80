"""A report never says 0 where it could not look: rules not evaluated, partial figures and rows.

Two private sandboxes with faults: every ``/users`` read answers a proxy's HTML page (the user
rules cannot be evaluated anywhere), and one organization's environments plus another's volumes
are forbidden (figures from them are partial, rows read nowhere are ``<NA>``).
"""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

import cloudmc_frames as cmf
from cloudmc_frames.reports.completeness import Completeness
from cloudmc_frames.reports.rules import USERS
from cloudmc_frames.sandbox import FaultRule

USER_RULES = [r.name for r in cmf.reports.RULES.values() if r.needs == USERS]
BLIND = "not evaluated: users unreadable in 20 of 20 organizations"


@pytest.fixture(scope="module")
def users_down():
    """The audit of the default scenario with every /users read failing (no retries: same result)."""
    with cmf.sandbox(orgs=20, seed=7, faults="html@/users") as sb, \
            sb.client(progress=False, retries=0) as client:
        yield cmf.reports.audit(client, now=sb.store.now)


@pytest.fixture(scope="module")
def holes():
    """Inventory, capacity and audit with globex's environments and umbrella-labs' volumes forbidden."""
    with cmf.sandbox(orgs=20, seed=7) as sb:
        with sb.client(progress=False) as probe:
            ids = cmf.organizations(probe).set_index("path")["id"]
        globex, umbrella = ids["nimbus-cloud/acme-corp/globex"], ids["nimbus-cloud/acme-corp/umbrella-labs"]
        sb.faults.add(FaultRule("status", path="/environments", org_id=globex, status=403))
        sb.faults.add(FaultRule("status", path="/services/*/volumes", org_id=umbrella, status=403))
        with sb.client(progress=False) as client:
            yield {"globex": globex, "umbrella": umbrella, "inventory": cmf.reports.inventory(client),
                   "capacity": cmf.reports.capacity(client),
                   "audit": cmf.reports.audit(client, now=sb.store.now)}


def test_user_rules_are_not_evaluated_in_the_summary(users_down):
    summary = users_down.summary.set_index("rule")
    assert USER_RULES and set(USER_RULES) < set(summary.index)
    for name in USER_RULES:
        row = summary.loc[name]
        assert row["completeness"] == "not evaluated"
        assert row["unread"] == "users unreadable in 20 of 20 organizations"
        assert pd.isna(row["findings"]) and all(pd.isna(row[s]) for s in ("high", "medium", "low"))
    others = summary.drop(index=USER_RULES)
    assert (others["completeness"] == "complete").all() and others["findings"].notna().all()


def test_user_rules_are_not_evaluated_in_every_rendering(users_down):
    text, markdown, page = users_down.to_text(), users_down.to_markdown(), users_down.to_html()
    for rendering in (text, markdown, page):
        for name in USER_RULES:
            assert name in rendering
        assert rendering.count("not evaluated") >= len(USER_RULES)
        assert "users unreadable in 20 of 20 organizations" in rendering
    csv = pd.read_csv(io.StringIO(users_down.to_csv()))
    said = csv[csv["subject_type"] == "rule"].set_index("rule")
    assert set(said.index) == set(USER_RULES)
    assert (said["detail"] == BLIND).all() and (said["completeness"] == "not evaluated").all()
    document = json.loads(users_down.to_json())
    states = {row["rule"]: row["completeness"] for row in document["summary"]}
    assert {states[n] for n in USER_RULES} == {"not evaluated"}
    assert {row["findings"] for row in document["summary"] if row["rule"] in USER_RULES} == {None}


def test_the_chart_names_the_rules_it_could_not_evaluate(users_down):
    ax = users_down.plot()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    for name in USER_RULES:
        assert f"{name} (not evaluated)" in labels
    assert sum(t.get_text().strip() == "not evaluated" for t in ax.texts) == len(USER_RULES)


def test_partial_rows_show_missing_measures_not_zero(holes):
    frame = holes["inventory"].frame
    blind = frame[frame["organization_id"] == holes["globex"]]
    assert len(blind) == 1 and blind["completeness"].iloc[0] == "not evaluated"
    assert blind[["instances", "volumes", "snapshots"]].isna().all(axis=None)
    umbrella = frame[frame["organization_id"] == holes["umbrella"]]
    assert len(umbrella) > 1 and (umbrella["completeness"] == "partial").all()
    assert umbrella["volumes"].isna().all() and umbrella["instances"].notna().all()
    assert set(umbrella["unread"]) == {"volumes"}
    others = frame[~frame["organization_id"].isin([holes["globex"], holes["umbrella"]])]
    assert (others["completeness"] == "complete").all() and others["unread"].isna().all()


def test_totals_and_rollup_are_partial(holes):
    totals = holes["inventory"].summary.set_index("measure")
    assert totals.loc["volumes", "completeness"] == "partial"
    assert totals.loc["volumes", "unread"] == "volumes unreadable in 2 of 18 organizations"
    assert totals.loc["instances", "unread"] == "instances unreadable in 1 of 18 organizations"
    rollup = holes["inventory"].tables["rollup"].set_index("organization_path")
    assert rollup.loc["nimbus-cloud", "completeness"] == "partial"
    assert pd.isna(rollup.loc["nimbus-cloud/acme-corp/umbrella-labs", "volumes"])
    assert rollup.loc["nimbus-cloud/cyberdyne-systems", "completeness"] == "complete"
    assert "partial: instances_running" not in holes["inventory"].to_text()  # one banner, not one per row
    assert "partial:" in holes["inventory"].to_text()


def test_capacity_rows_without_use_are_not_over_ceiling(holes):
    frame = holes["capacity"].frame
    globex = frame[frame["organization_id"] == holes["globex"]]
    assert len(globex) > 0 and globex["used"].isna().all() and globex["over_ceiling"].isna().all()
    umbrella = frame[frame["organization_id"] == holes["umbrella"]].set_index("resource")
    assert pd.isna(umbrella.loc["storage", "used"])
    assert umbrella.loc["storage", "completeness"] == "not evaluated"
    assert umbrella.loc["vcpu", "completeness"] == "complete" and pd.notna(umbrella.loc["vcpu", "used"])
    summary = holes["capacity"].summary.set_index("resource")
    assert set(summary["completeness"]) == {"partial"}


def test_audit_rules_on_partial_inputs_are_partial(holes):
    summary = holes["audit"].summary.set_index("rule")
    assert summary.loc["unattached_volumes", "completeness"] == "partial"
    assert "volumes unreadable in 2 of 18 organizations" in summary.loc["unattached_volumes", "unread"]
    assert summary.loc["users_without_2fa", "completeness"] == "complete"
    frame = holes["audit"].frame
    volumes = frame[frame["rule"] == "unattached_volumes"]
    assert (volumes["completeness"] == "partial").all()
    assert (volumes["subject_type"] == "rule").sum() == 1
    assert summary.loc["unattached_volumes", "findings"] == (volumes["subject_type"] != "rule").sum()
    labels = [t.get_text() for t in holes["audit"].plot().get_yticklabels()]
    assert "unattached_volumes (partial)" in labels and "users_without_2fa" in labels


def test_quotas_unreadable_give_a_row_not_silence(start_sandbox):
    sb = start_sandbox()
    with sb.client(progress=False) as probe:
        victim = cmf.organizations(probe).set_index("path")["id"]["nimbus-cloud/sterling-cooper"]
    sb.faults.add(FaultRule("status", path="/quotas", org_id=victim, status=403))
    with sb.client(progress=False) as client:
        report = cmf.reports.capacity(client)
    rows = report.frame[report.frame["organization_id"] == victim]
    assert len(rows) == 1 and rows["completeness"].iloc[0] == "not evaluated"
    assert rows["unread"].iloc[0] == "quotas"


@pytest.mark.parametrize(("statuses", "state"), [
    (["ok", "empty"], "complete"), (["ok", "error"], "partial"),
    (["forbidden", "not_cached"], "not evaluated"),
], ids=["all read", "one failed", "none read"])
def test_status_of_an_input(statuses, state):
    coverage = pd.DataFrame({"organization_id": ["o1", "o2"], "environment": [None, None],
                             "entity": ["users", "users"], "status": statuses})
    assert Completeness(coverage).status(["users"]).state == state


def test_an_environment_list_failure_leaves_what_it_holds_unread():
    coverage = pd.DataFrame({"organization_id": ["o1", "o2", "o2"], "environment": [None, None, "dev"],
                             "entity": ["environments", "environments", "instances"],
                             "status": ["error", "ok", "ok"]})
    status = Completeness(coverage).status(["instances"])
    assert status.text == "partial: instances unreadable in 1 of 2 organizations"
