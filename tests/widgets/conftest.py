"""Widget tests: forms built in plain Python (no kernel, no browser) against a module's sandbox."""

from __future__ import annotations

import pytest


@pytest.fixture
def client(writable_sb):
    with writable_sb.client() as c:
        yield c


def output_text(form) -> str:
    """Everything a form wrote into its output area, as text."""
    parts = []
    for item in form.output.outputs:
        parts.append(item.get("text") or item.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def record(widget, name: str = "value") -> list:
    """The successive values a trait takes from now on."""
    seen: list = []
    widget.observe(lambda change: seen.append(change["new"]), names=name)
    return seen
