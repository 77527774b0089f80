"""One definition per figure: the inventory, the audit and the demo count the same things the same way."""

from __future__ import annotations

import re

import pandas as pd

from cloudmc_frames.cli import demo

from . import oracle


def totals(report) -> pd.Series:
    return report.summary.set_index("measure")["value"]


def test_inventory_counts_every_organization_read_as_the_audit_does(inventory, audit, sb):
    every = oracle.org_ids(sb.store, include_deleted=True)
    value = totals(inventory)
    assert value["organizations"] == len(every) == len(inventory.tables["rollup"])
    assert value["organizations_deleted"] == len(every) - len(oracle.org_ids(sb.store)) > 0
    assert inventory.scope == audit.scope
    found = audit.summary.set_index("rule")["findings"]
    assert value["volumes_unattached"] == found["unattached_volumes"]
    envs = [e for o in every for e in oracle.envs_of(sb.store, o)]
    assert value["instances"] == sum(len(oracle.instances(sb.store, e)) for e in envs)
    assert value["environments"] == sum(len(oracle.envs_of(sb.store, o)) for o in every)


def test_deleted_organizations_are_flagged_rows_that_match_the_audit(inventory, audit):
    rollup = inventory.tables["rollup"]
    flagged = rollup[rollup["organization_deleted"] & (rollup["instances"] > 0)]
    findings = audit.frame[audit.frame["rule"] == "deleted_orgs_with_resources"].set_index("organization_id")
    assert set(flagged["organization_id"]) == set(findings.index)
    for row in flagged.itertuples(index=False):
        detail = findings.loc[row.organization_id, "detail"]
        live = int(row.instances) - int(row.instances_destroyed)
        assert re.search(rf"\b{live} instances\b", detail)
        assert re.search(rf"\b{row.volumes} volumes\b", detail)


def test_every_total_states_what_it_counts(inventory, capacity, audit):
    assert inventory.summary["meaning"].str.len().min() > 10
    assert audit.summary["description"].str.len().min() > 10
    assert any("deleted" in note for note in inventory.notes)
    gib = inventory.summary.loc[inventory.summary["unit"] == "GiB", "measure"]
    assert all(isinstance(v, int) for v in totals(inventory).drop(gib))


def test_the_demo_header_and_totals_agree(reports):
    text = demo.summary_text(reports, {"users": 44})
    rows = r"^(organizations|organizations_deleted|volumes_unattached)\s+(\d+)\s"
    table = dict(re.findall(rows, text, re.M))
    assert table["organizations"] == str(len(reports["inventory"].tables["rollup"]))
    assert table["volumes_unattached"] == str(int(reports["audit"].summary.set_index("rule").loc[
        "unattached_volumes", "findings"]))
    assert "deleted ones included" in text
    assert not re.search(r"\b\d+\.0\b", text)  # counts are integers


def test_a_report_that_leaves_deleted_organizations_out_says_how_many(inventory, capacity):
    counted = re.fullmatch(r"(\d+) organizations \(.*, (\d+) of them deleted\)", inventory.scope)
    left = re.fullmatch(r"(\d+) organizations \(.*; (\d+) deleted ones left out\)", capacity.scope)
    assert counted and left, (inventory.scope, capacity.scope)
    assert int(left[1]) + int(left[2]) == int(counted[1]) and left[2] == counted[2] != "0"
