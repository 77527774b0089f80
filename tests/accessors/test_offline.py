"""Offline misses are a distinct, visible outcome: ``not_cached`` coverage, one warning, partial reports.

A client caches only the instances; an offline client of the same key then asks for volumes
(never cached) and for the inventory.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

import cloudmc_frames as cmf

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def cached(tmp_path_factory):
    """(endpoint, key, cache folder) after a crawl of the instances only; the sandbox is gone."""
    folder = tmp_path_factory.mktemp("cache")
    with cmf.sandbox(orgs=6, seed=3) as sb, cmf.connect(sb.endpoint, sb.api_key, cache_dir=str(folder),
                                                         progress=False) as client:
        every = cmf.organizations(client, include_deleted=True)  # what the inventory reads
        assert len(cmf.instances(client, orgs=every)) > 0
        return sb.endpoint, sb.api_key, folder


def offline(cached) -> cmf.Client:
    endpoint, key, folder = cached
    return cmf.connect(endpoint, key, cache_dir=str(folder), offline=True, progress=False)


def test_a_miss_is_not_cached_in_coverage_and_issues(cached, caplog):
    with offline(cached) as client, caplog.at_level(logging.WARNING, "cloudmc_frames"):
        vols = cmf.volumes(client)
        coverage, issues = client.coverage, client.issues
    assert vols.empty
    volume_scopes = coverage[coverage["entity"] == "volumes"]
    assert len(volume_scopes) > 0 and set(volume_scopes["status"].astype(str)) == {"not_cached"}
    assert set(coverage[coverage["entity"] == "environments"]["status"].astype(str)) <= {"ok", "empty"}
    assert len(issues) == len(volume_scopes)
    assert set(issues["code"]) == {"not_cached"} and set(issues["exception"]) == {"CacheMissError"}
    lines = [r.getMessage() for r in caplog.records]
    assert any(re.search(rf"resources: {len(volume_scopes)} scopes not in the cache \(offline\)", m)
               for m in lines), lines


def test_with_errors_raise_a_miss_raises(cached):
    with offline(cached) as client, pytest.raises(cmf.CacheMissError, match="offline"):
        cmf.volumes(client, errors="raise")


def test_an_offline_report_marks_what_was_not_cached(cached):
    with offline(cached) as client:
        report = cmf.reports.inventory(client)
    totals = report.summary.set_index("measure")
    assert totals.loc["instances", "completeness"] == "complete" and totals.loc["instances", "value"] > 0
    assert totals.loc["volumes", "completeness"] == "not evaluated"
    assert totals.loc["volumes", "value"] is None  # not 0
    assert report.frame["volumes"].isna().all()
    assert "not evaluated: " in report.to_text() and "volumes" in report.to_text()


def test_the_readme_says_what_happens():
    text = " ".join(README.read_text(encoding="utf-8").split())
    assert "`errors=\"raise\"`" in text and "`not_cached`" in text
    assert "scopes not in the cache (offline)" in text
