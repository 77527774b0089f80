"""``cloudmc-frames``: report formats round-trip, exit statuses 0/2/1, one-line errors, demo files."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pandas as pd
import pytest

import cloudmc_frames as cmf
from cloudmc_frames.cli import main
from cloudmc_frames.errors import ConfigError
from cloudmc_frames.sandbox import FaultRule


@pytest.fixture
def remote(sb, monkeypatch):
    """The sandbox as a remote CloudMC: --endpoint plus the key in CLOUDMC_API_KEY."""
    monkeypatch.setenv("CLOUDMC_API_KEY", sb.api_key)
    return ["--endpoint", sb.endpoint]


def plain(frame):
    return frame.astype(object).where(frame.notna(), np.nan)


def test_csv_from_the_command_line_equals_the_report_frame(sb, tmp_path, capsys):
    out = tmp_path / "capacity.csv"
    assert main(["report", "capacity", "--sandbox", "--format", "csv", "--out", str(out)]) == 0
    with sb.client(progress=False) as client:
        frame = cmf.reports.capacity(client).frame
    back = pd.read_csv(out, keep_default_na=False, na_values=[""])
    pd.testing.assert_frame_equal(plain(back), plain(frame), check_dtype=False)
    assert f"wrote {out}" in capsys.readouterr().err


@pytest.mark.parametrize(("fmt", "check"), [
    ("text", lambda t: t.startswith("CloudMC inventory\n")),
    ("markdown", lambda t: t.startswith("# CloudMC inventory") and "|" in t),
    ("json", lambda t: json.loads(t)["report"] == "inventory"),
    ("html", lambda t: t.startswith("<!doctype html>") and "data:image/png;base64," in t),
    ("csv", lambda t: t.startswith("organization_path,")),
])
def test_every_format_to_standard_output(remote, capsys, fmt, check):
    assert main(["report", "inventory", *remote, "--org", "nimbus-cloud/acme-corp*", "--format", fmt]) == 0
    captured = capsys.readouterr()
    assert check(captured.out)
    assert captured.err == ""


def test_json_rows_round_trip(remote, capsys, sb):
    assert main(["report", "audit", *remote, "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["complete"] is True and document["rows"]
    assert {r["rule"] for r in document["rows"]} <= {r["rule"] for r in document["summary"]}


def test_partial_data_exits_2_with_one_line(start_sandbox, monkeypatch, capsys):
    faulty = start_sandbox()
    faulty.faults.add(FaultRule("status", path="/services/compute-on/*", status=403))
    monkeypatch.setenv("CLOUDMC_API_KEY", faulty.api_key)
    status = main(["report", "inventory", "--endpoint", faulty.endpoint, "--format", "markdown"])
    captured = capsys.readouterr()
    assert status == 2
    assert "incomplete:" in captured.out and "## Issues" in captured.out
    assert captured.err.count("\n") == 1 and "scopes failed" in captured.err


@pytest.mark.parametrize(("argv", "env", "message"), [
    (["report", "inventory"], {}, "CLOUDMC_ENDPOINT and CLOUDMC_API_KEY not set"),
    (["report", "inventory", "--endpoint", "https://cloudmc.example.com"], {}, "CLOUDMC_API_KEY is not set"),
    (["report", "inventory", "--sandbox", "--org", "nope/*"], {}, "matches no organization"),
    (["report", "inventory", "--sandbox", "--offline"], {}, "--offline needs --endpoint"),
    (["report", "capacity", "--sandbox", "--offline", "--fresh"], {}, "contradict"),
    (["report", "audit", "--endpoint", "http://cloudmc.example.com"], {"CLOUDMC_API_KEY": "k" * 32},
     "refusing plain http://"),
    (["report", "usage", "--sandbox", "--start", "2026-01-01"], {}, "report usage needs --start and --end"),
    (["report", "inventory", "--sandbox", "--start", "2026-01-01"], {}, "--start and --end are for usage"),
    (["report", "utilization", "--sandbox", "--start", "2026-02-01", "--end", "2026-01-01"], {},
     "must be before end=2026-01-01"),
    (["report", "utilization", "--sandbox", "--start", "2026-01-01", "--end", "2026-02-01", "--metric",
      "disk"], {}, "unknown metric 'disk'"),
], ids=["no endpoint", "no key", "bad org", "offline sandbox", "offline and fresh", "insecure",
        "usage without a window", "window on inventory", "reversed window", "unknown metric"])
def test_failures_exit_1_with_one_line_and_no_traceback(argv, env, message, monkeypatch, capsys):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("cloudmc-frames: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_usage_and_utilization_from_the_command_line_equal_their_reports(sb, tmp_path):
    window = {"start": "2026-09-01", "end": "2026-12-01"}
    out = tmp_path / "usage.csv"
    argv = ["report", "usage", "--sandbox", "--start", window["start"], "--end", window["end"], "--period",
            "MONTH", "--format", "csv", "--out", str(out)]
    assert main(argv) == 0
    with sb.client(progress=False) as client:
        frame = cmf.reports.usage(client, **window).frame
        busy = cmf.reports.utilization(client, **window)
    written = pd.read_csv(out)
    assert list(written.columns) == list(frame.columns) and len(written) == len(frame)
    assert written["cost"].sum() == pytest.approx(frame["cost"].sum())
    page = tmp_path / "utilization.html"
    assert main(["report", "utilization", "--sandbox", "--start", window["start"], "--end", window["end"],
                 "--format", "html", "--out", str(page)]) == 0
    text = page.read_text(encoding="utf-8")
    assert "CloudMC utilization: instance.cpu.utilization" in text and "data:image/png;base64" in text
    assert all(name in text for name in busy.tables["idle"]["name"])


def test_debug_shows_the_traceback():
    with pytest.raises(ConfigError, match="matches no organization"):
        main(["report", "inventory", "--sandbox", "--org", "nope/*", "--debug"])


def test_usage_errors_exit_1(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["report", "payroll"])
    assert exit_.value.code == 1
    assert "invalid choice" in capsys.readouterr().err


def test_offline_replays_the_cache_after_the_server_is_gone(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("CLOUDMC_CACHE_DIR", str(tmp_path / "cache"))
    with cmf.sandbox(orgs=8, seed=3, task_delay=0.05) as small:
        monkeypatch.setenv("CLOUDMC_API_KEY", small.api_key)
        endpoint = small.endpoint
        assert main(["report", "capacity", "--endpoint", endpoint, "--format", "csv"]) == 0
        online = capsys.readouterr().out
        assert main(["report", "capacity", "--endpoint", endpoint, "--format", "csv", "--fresh"]) == 0
        assert capsys.readouterr().out == online
    assert main(["report", "capacity", "--endpoint", endpoint, "--format", "csv", "--offline"]) == 0
    assert capsys.readouterr().out == online


def test_demo_prints_a_summary_and_writes_three_pages(tmp_path, capsys, sb):
    folder = tmp_path / "demo"
    assert main(["demo", "--out", str(folder), "--no-progress"]) == 0
    out = capsys.readouterr().out
    for title in ("Inventory totals", "Instances by provider state", "Audit findings per rule", "Issues"):
        assert title in out
    usage_line = " ".join(next(p for p in out.split("\n\n") if p.startswith("Usage: ")).split())
    idle = sum(1 for kind in sb.store.usage_profiles.values() if kind == "idle")
    assert " cost " in usage_line and f"; {idle} idle running instances" in usage_line
    header = re.search(r"(\d+) organizations \((\d+) of them deleted\)", out.splitlines()[0])
    assert header and re.search(rf"^organizations\s+{header[1]}\s", out, re.M)
    assert re.search(rf"^organizations_deleted\s+{header[2]}\s", out, re.M)
    assert max(len(line) for line in out.splitlines() if str(folder) not in line) <= 120  # a path is a path
    pages = sorted(p.name for p in folder.iterdir())
    assert pages == ["audit.html", "capacity.html", "inventory.html"]
    keys = [k.key for k in sb.keys]  # same scenario (orgs=20, seed=7): same keys
    for page in folder.iterdir():
        text = page.read_text(encoding="utf-8")
        assert text.startswith("<!doctype html>") and not any(k in text for k in keys)
    assert not any(k in out for k in keys)


def test_other_subcommands_still_work(capsys):
    assert main([]) == 1  # no command: the help, and the status of an error
    assert "report" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        main(["sandbox", "--help"])
    assert exit_.value.code == 0


@pytest.mark.parametrize(("suffix", "starts"), [(".html", "<!doctype html>"), (".md", "# CloudMC inventory"),
                                                (".json", "{"), (".csv", "organization_path,"),
                                                (".txt", "CloudMC inventory\n")])
def test_the_format_comes_from_the_out_suffix(remote, tmp_path, suffix, starts):
    out = tmp_path / f"inventory{suffix}"
    assert main(["report", "inventory", *remote, "--org", "nimbus-cloud/acme-corp*", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith(starts)


def test_unwritable_out_fails_before_anything_is_read(remote, sb, tmp_path, capsys):
    before = len(sb.requests)
    assert main(["report", "audit", *remote, "--out", str(tmp_path / "missing" / "audit.html")]) == 1
    assert len(sb.requests) == before
    assert "does not exist" in capsys.readouterr().err


def test_orgs_lists_the_paths_org_patterns_match(remote, sb, capsys):
    assert main(["orgs", *remote]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:2] == ["path", "name"]
    live = [o for o in sb.store.orgs.values() if not o["deleted"]]
    assert sum(1 for line in out.splitlines() if line.startswith("nimbus-cloud")) == len(live)
    assert main(["orgs", *remote, "--include-deleted", "--format", "csv"]) == 0
    assert len(pd.read_csv(io.StringIO(capsys.readouterr().out))) == len(sb.store.orgs)


def test_allow_insecure_lets_plain_http_through(monkeypatch, capsys):
    monkeypatch.setenv("CLOUDMC_API_KEY", "k" * 32)
    status = main(["orgs", "--endpoint", "http://no-such-host.invalid", "--allow-insecure"])
    err = capsys.readouterr().err
    assert status == 1 and "refusing plain http" not in err and "does not resolve" in err
