"""Every Python block of the README runs as written against the default sandbox.

The blocks run in order in one namespace (a later block may use the ``client`` of an earlier
one), in a temporary folder, with ``CLOUDMC_ENDPOINT`` and ``CLOUDMC_API_KEY`` pointing at the
default scenario (orgs=20, seed=7) on a sandbox of its own (a block may write: snapshots, tasks),
as a reader who ran ``cloudmc-frames sandbox`` would have.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def python_blocks() -> list[str]:
    return BLOCK.findall(README.read_text(encoding="utf-8"))


def test_the_readme_has_python_blocks():
    blocks = python_blocks()
    assert len(blocks) >= 3
    assert any("with cmf.sandbox() as sb:" in block for block in blocks)


def test_every_python_block_runs_as_written(start_sandbox, monkeypatch, tmp_path, capsys):
    sb = start_sandbox("default")
    monkeypatch.setenv("CLOUDMC_ENDPOINT", sb.endpoint)
    monkeypatch.setenv("CLOUDMC_API_KEY", sb.api_key)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "readme"}
    for number, block in enumerate(python_blocks(), start=1):
        try:
            exec(compile(block, f"README.md python block {number}", "exec"), namespace)
        except Exception as error:  # noqa: BLE001 - say which block failed, then fail
            pytest.fail(f"README python block {number} fails: {type(error).__name__}: {error}\n{block}")
    assert len(namespace["vms"]) > 0 and namespace["client"].issues.empty
    assert (tmp_path / "audit.html").read_text(encoding="utf-8").startswith("<!doctype html>")
    assert "nimbus-cloud/acme-corp" in capsys.readouterr().out


def test_a_sandbox_serves_as_soon_as_it_is_made():
    import cloudmc_frames as cmf

    sb = cmf.sandbox(orgs=3)  # the README's table: "an embedded CloudMC, already serving"
    try:
        assert sb.endpoint.startswith("http://127.0.0.1:")
        with sb.client(progress=False) as client:
            assert len(cmf.organizations(client)) > 0
    finally:
        sb.stop()
    with pytest.raises(cmf.ConfigError, match="orgs must be >= 1"):
        cmf.sandbox(orgs=0)
