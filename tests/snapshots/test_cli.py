"""``cloudmc-frames snapshot / snapshots / diff``: exit statuses 0/2/1, one-line errors, every format."""

from __future__ import annotations

import json

import pytest

from cloudmc_frames.cli import main
from cloudmc_frames.sandbox import FaultRule


@pytest.fixture
def remote(sb, monkeypatch):
    monkeypatch.setenv("CLOUDMC_API_KEY", sb.api_key)
    return ["--endpoint", sb.endpoint]


def test_snapshot_snapshots_and_diff(remote, tmp_path, capsys, sb):
    root = str(tmp_path / "history")
    assert (
        main(["snapshot", "--root", root, *remote, "--label", "monday", "--collections", "users,instances"])
        == 0
    )
    out = capsys.readouterr()
    assert out.out.startswith("snapshot ") and "rows in 3 collections" in out.out  # organizations always
    org = sb.store.children[sb.store.root_id][0]
    sb.faults.add(FaultRule("status", path="/services/*", org_id=org, status=403))
    try:
        assert main(["snapshot", "--root", root, *remote, "--collections", "users,instances", "--fresh"]) == 2
    finally:
        sb.faults.clear()
    err = capsys.readouterr().err
    assert "is partial" in err and len(err.strip().splitlines()) == 1
    assert main(["snapshots", "--root", root]) == 0
    listing = capsys.readouterr().out
    assert "monday" in listing and listing.count("\n") == 3
    assert main(["diff", "--root", root]) == 2  # the newer snapshot is partial
    captured = capsys.readouterr()
    assert captured.out.startswith("CloudMC drift") and "not covered" in captured.out
    assert main(["diff", "--root", root, "previous", "latest", "--format", "json"]) == 2
    document = json.loads(capsys.readouterr().out)
    assert document["report"] == "drift"
    out = tmp_path / "drift.html"
    assert main(["diff", "--root", root, "--format", "html", "--out", str(out)]) == 2
    assert out.read_text().startswith("<!doctype html>")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["snapshots", "--root", "/nonexistent/folder"], "is not a folder"),
        (["diff", "--root", "/nonexistent/folder"], "is not a folder"),
        (["snapshot", "--root", "/dev/null/x", "--sandbox"], "not writable"),
        (["snapshot", "--root", "{tmp}", "--sandbox", "--collections", "bogus"], "unknown collection"),
        (["diff", "--root", "{tmp}", "nothing-here"], "names no complete snapshot"),
        (["snapshot", "--sandbox"], "--root"),
    ],
    ids=["list-missing-root", "diff-missing-root", "unwritable", "bad-collection", "bad-at", "no-root"],
)
def test_bad_invocations_fail_in_one_line(argv, message, tmp_path, capsys):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    with pytest.raises(SystemExit) if "--root" not in argv else _nothing():
        status = main(argv)
        assert status == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.startswith("cloudmc-frames")]) == 1


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
