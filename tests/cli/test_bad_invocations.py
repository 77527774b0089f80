"""Bad invocations of ``cloudmc-frames``: one line on standard error, no traceback, the right exit status.

Exit status 1 for every error, usage errors included (2 is kept for "the report is partial").
The line starts with ``cloudmc-frames: error:`` and its hint names command-line options, never
Python ones (``cmf.``, ``allow_insecure=True``, ``offline=True``). Each case runs ``main()`` in
this process; an exception escaping it fails the test.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any

import pytest

from cloudmc_frames.cli import main

KEY = "k" * 32
PYTHON_HINTS = ("cmf.", "=True", "client)", "Traceback", "sb.client")


@dataclass(frozen=True)
class Bad:
    """One invocation: ``argv`` (``{endpoint}``, ``{https}``, ``{closed}``, ``{busy}``, ``{tmp}``
    are filled in), the environment it runs with, and words the error line must hold."""

    argv: tuple[str, ...]
    says: str
    env: dict[str, str] = field(default_factory=dict)


CASES = {
    "unknown command": Bad(("payroll",), "invalid choice: 'payroll'"),
    "report without a kind": Bad(("report",), "required: kind"),
    "unknown report": Bad(("report", "payroll"), "invalid choice: 'payroll'"),
    "unknown format": Bad(("report", "inventory", "--format", "xml"), "invalid choice: 'xml'"),
    "sandbox and endpoint": Bad(("report", "inventory", "--sandbox", "--endpoint", "{endpoint}"),
                                "not allowed with argument --sandbox"),
    "unknown option": Bad(("report", "inventory", "--sandbox", "--orgz", "x"), "unrecognized arguments"),
    "no endpoint": Bad(("report", "inventory"), "or try the toolkit without an account: --sandbox"),
    "no key": Bad(("report", "inventory", "--endpoint", "https://cloudmc.example.com"),
                  "CLOUDMC_API_KEY is not set"),
    "organization not found": Bad(("report", "inventory", "--sandbox", "--org", "nope/*"),
                                  "`cloudmc-frames orgs`"),
    "offline sandbox": Bad(("report", "inventory", "--sandbox", "--offline"), "--offline needs --endpoint"),
    "offline and fresh": Bad(("report", "capacity", "--sandbox", "--offline", "--fresh"), "contradict"),
    "plain http": Bad(("report", "audit", "--endpoint", "http://cloudmc.example.com"), "--allow-insecure",
                      {"CLOUDMC_API_KEY": KEY}),
    "not a URL": Bad(("report", "audit", "--endpoint", "cloudmc example"), "is not an http(s) URL",
                     {"CLOUDMC_API_KEY": KEY}),
    "folder missing": Bad(("report", "inventory", "--sandbox", "--out", "{tmp}/no/such/x.html"),
                          "does not exist"),
    "out is a folder": Bad(("report", "inventory", "--sandbox", "--out", "{tmp}"), "is a folder"),
    "unknown suffix": Bad(("report", "inventory", "--sandbox", "--out", "{tmp}/x.pdf"),
                          "cannot tell the format"),
    "format and suffix clash": Bad(("report", "inventory", "--sandbox", "--format", "csv", "--out",
                                    "{tmp}/x.html"), "--format csv but --out"),
    "connection refused": Bad(("report", "inventory", "--endpoint", "{closed}"), "connection refused",
                              {"CLOUDMC_API_KEY": KEY}),
    "https to an http port": Bad(("report", "inventory", "--endpoint", "{https}"), "use http://",
                                 {"CLOUDMC_API_KEY": KEY}),
    "host does not resolve": Bad(("orgs", "--endpoint", "http://no-such-host.invalid", "--allow-insecure"),
                                 "does not resolve", {"CLOUDMC_API_KEY": KEY}),
    "wrong key": Bad(("orgs", "--endpoint", "{endpoint}"), "check CLOUDMC_API_KEY", {"CLOUDMC_API_KEY": KEY}),
    "offline, empty cache": Bad(("orgs", "--endpoint", "{endpoint}", "--offline"), "without --offline",
                                {"CLOUDMC_API_KEY": "{key}"}),
    "orgs in xml": Bad(("orgs", "--sandbox", "--format", "xml"), "invalid choice: 'xml'"),
    "orgs without a source": Bad(("orgs",), "--endpoint URL"),
    "read timeout not a number": Bad(("orgs", "--sandbox", "--read-timeout", "soon"), "invalid float value"),
    "demo with no organizations": Bad(("demo", "--orgs", "0"), "orgs must be >= 1"),
    "demo orgs not a number": Bad(("demo", "--orgs", "abc"), "invalid int value"),
    "demo into a file": Bad(("demo", "--out", "{tmp}/file.txt"), "is a file"),
    "demo below a file": Bad(("demo", "--out", "{tmp}/file.txt/pages"), "is a file"),
    "sandbox fault spec": Bad(("sandbox", "--faults", "boom:2"), "--faults: "),
    "sandbox port in use": Bad(("sandbox", "--port", "{busy}"), "already in use"),
    "sandbox no organizations": Bad(("sandbox", "--orgs", "0"), "orgs must be >= 1"),
    "sandbox hourly beyond usage": Bad(("sandbox", "--orgs", "2", "--hourly-days", "400"), "hourly_days"),
}


@pytest.fixture(scope="module")
def ports():
    """A closed port (bound, then released) and a busy one (held until the module ends)."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        free = closed.getsockname()[1]
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield free, busy.getsockname()[1]


def run(argv: list[str]) -> int:
    """``main(argv)``; argparse's exit becomes the status (anything else escapes and fails)."""
    try:
        return main(argv)
    except SystemExit as exit_:
        return exit_.code


def fill(text: str, values: dict[str, Any]) -> str:
    return text.format(**values) if "{" in text else text


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_one_line_no_traceback_exit_1(case, sb, ports, tmp_path, monkeypatch, capsys):
    (tmp_path / "file.txt").write_text("taken")
    values = {"endpoint": sb.endpoint, "https": sb.endpoint.replace("http://", "https://"),
              "closed": f"http://127.0.0.1:{ports[0]}", "busy": ports[1], "tmp": tmp_path, "key": sb.api_key}
    for name, value in case.env.items():
        monkeypatch.setenv(name, fill(value, values))
    status = run([fill(arg, values) for arg in case.argv])
    err = capsys.readouterr().err
    assert status == 1, err
    assert err.count("\n") == 1 and err.startswith("cloudmc-frames: error: "), err
    assert case.says in err
    assert not any(hint in err for hint in PYTHON_HINTS), err


def test_no_arguments_print_the_help_and_exit_1(capsys):
    assert run([]) == 1
    out = capsys.readouterr().out
    assert out.startswith("usage: cloudmc-frames") and "orgs" in out and "Exit status" in out


def test_at_least_25_bad_invocations():
    assert len(CASES) >= 25
