"""The sandbox CLI piece: options, and a real foreground run stopped with Ctrl-C (SIGINT)."""
import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from cloudmc_frames.sandbox import cli

ROOT = Path(__file__).resolve().parents[2]


def test_add_arguments_defaults_and_options():
    parser = cli.add_arguments(argparse.ArgumentParser())
    defaults = parser.parse_args([])
    assert (defaults.port, defaults.host, defaults.orgs, defaults.seed, defaults.scale) == (0, "127.0.0.1",
                                                                                            20, 7, 1.0)
    assert defaults.latency_ms == 0 and defaults.faults == "" and not defaults.ignore_paging
    args = parser.parse_args(["--port", "9", "--orgs", "5", "--seed", "3", "--scale", "2.5", "--latency-ms",
                              "10",
                              "--faults", "429:0.1", "--ignore-paging", "--host", "0.0.0.0"])
    assert (args.port, args.orgs, args.seed, args.scale, args.latency_ms, args.faults, args.ignore_paging,
            args.host) == (9, 5, 3, 2.5, 10, "429:0.1", True, "0.0.0.0")


def test_rate_limit_and_paging_quirk_options_reach_the_server():
    parser = cli.add_arguments(argparse.ArgumentParser())
    defaults = cli._misbehaviour(parser.parse_args([]))
    assert defaults == {"rate_limit": None, "max_page_size": None, "served_page_size": None,
                        "record_count_skew": 0}
    args = parser.parse_args(["--rate-limit", "key=50,retry=date", "--max-page-size", "100",
                              "--served-page-size", "7", "--record-count-skew", "-2"])
    options = cli._misbehaviour(args)
    server = cli.SandboxServer(orgs=2, **options)
    assert (server.rate_limits.limit.per_key, server.rate_limits.limit.retry) == (50, "date")
    assert (server.paging.max_page_size, server.paging.served_page_size,
            server.paging.record_count_skew) == (100, 7, -2)


def test_bad_rate_limit_spec_is_one_error_line_and_exit_1(capsys):
    args = cli.add_arguments(argparse.ArgumentParser()).parse_args(["--rate-limit", "key=lots"])
    assert cli.run(args) == 1  # 2 means "partial data" in this toolkit's commands
    err = capsys.readouterr().err
    assert "'lots' is not a number" in err and len(err.strip().splitlines()) == 1


def test_usage_options():
    parser = cli.add_arguments(argparse.ArgumentParser())
    defaults = parser.parse_args([])
    assert (defaults.usage_days, defaults.hourly_days, defaults.usage_metadata, defaults.csv_bom) == (
        365, 30, "camel", False)
    args = parser.parse_args(["--usage-days", "90", "--hourly-days", "90", "--usage-metadata", "snake",
                              "--csv-bom"])
    assert (args.usage_days, args.hourly_days, args.usage_metadata, args.csv_bom) == (90, 90, "snake", True)


def test_bad_fault_spec_exits_1_with_one_line(capsys):
    args = cli.add_arguments(argparse.ArgumentParser()).parse_args(["--faults", "nonsense"])
    assert cli.run(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("cloudmc-sandbox: error: --faults: ") and "nonsense" in err and err.count("\n") == 1


def test_bad_usage_days_exit_1(capsys):
    args = cli.add_arguments(argparse.ArgumentParser()).parse_args(["--orgs", "2", "--hourly-days", "400"])
    assert cli.run(args) == 1
    assert "hourly_days" in capsys.readouterr().err


def test_foreground_run_prints_exports_and_stops_on_ctrl_c():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "cloudmc_frames.sandbox.cli", "--orgs", "6"], cwd=ROOT,
                            env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines, deadline = [], time.monotonic() + 15
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "Press Ctrl-C" in line or not line:
                break
        text = "".join(lines)
        exports = dict(line.split(" ", 1)[1].split("=", 1) for line in lines if line.startswith("export "))
        assert set(exports) == {"CLOUDMC_ENDPOINT", "CLOUDMC_API_KEY"}, text
        endpoint, key = exports["CLOUDMC_ENDPOINT"].strip(), exports["CLOUDMC_API_KEY"].strip()
        assert "Administrator" in text and "Guest" in text
        response = requests.get(endpoint + "/api/v2/organizations", headers={"MC-Api-Key": key}, timeout=5)
        assert response.status_code == 200 and len(response.json()["data"]) >= 5
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "sandbox stopped" in out and "Traceback" not in err
