"""Key-path / type parity between sandbox payloads and ``tests/fixtures/vendor_fields.json``.

The fixture was extracted once from the vendor's example payloads by
``tests/fixtures/extract_vendor_fields.py``; nothing here reads the vendor docs.
"""
import json
from pathlib import Path

from tests.fixtures.extract_vendor_fields import walk

FIXTURE_PATH = Path(__file__).parent.parent / "fixtures" / "vendor_fields.json"
FIXTURE = json.loads(FIXTURE_PATH.read_text(encoding="utf-8"))
OPAQUE = set(FIXTURE["opaque"])


def opaque(*names):
    """The free-form paths of payloads ``names``: the shared ones plus each payload's own."""
    return frozenset(OPAQUE.union(*(FIXTURE["entities"][n].get("opaque", ()) for n in names)))


def paths(records, skip=frozenset(OPAQUE)):
    """``{path: set(types)}`` over all ``records`` (same syntax as the fixture), not below ``skip`` paths."""
    out = {}
    for record in records:
        walk(record, "", out, skip)
    return out


def vendor(*names, prefix=None):
    """Union of the fixture's fields for ``names`` (optionally only paths under ``prefix``)."""
    fields = {}
    for name in names:
        for path, types in FIXTURE["entities"][name]["fields"].items():
            if prefix is None or path == prefix or path.startswith(prefix + "."):
                fields.setdefault(path, set()).update(types)
    return fields


def check(records, required, allowed=(), prefix=None):
    """Assert required ⊆ served ⊆ required ∪ allowed, and matching non-null types."""
    assert records, "nothing served to compare"
    served = paths(records, opaque(*required, *allowed))
    if prefix is not None:
        served = {p: t for p, t in served.items() if p == prefix or p.startswith(prefix + ".")}
    want = vendor(*required, prefix=prefix)
    extra_ok = vendor(*allowed, prefix=prefix)
    missing = sorted(set(want) - set(served))
    unexpected = sorted(set(served) - set(want) - set(extra_ok))
    assert not missing, f"vendor fields the sandbox never serves: {missing}"
    assert not unexpected, f"sandbox fields the vendor never shows: {unexpected}"
    expected = {**extra_ok, **want}
    wrong = {p: (sorted(t), sorted(expected[p])) for p, t in served.items()
             if not (t - {"null"}) <= expected[p] or not t - {"null"}}
    assert not wrong, f"type mismatches (served, vendor): {wrong}"
