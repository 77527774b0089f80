"""The public surface: each ``__all__`` sorted and equal to its namespace; options; docstrings."""

import inspect

import pytest

import cloudmc_frames as cmf

NAMESPACES = [cmf, cmf.reports, cmf.widgets]
# cmf.operate/create/delete keep the order of the URL they write to, as the API documents it
# (client, service_code, environment, entity_type, id, operation); every option is keyword-only.
URL_ORDER = {"operate", "create", "delete", "operate_many"}


def public_names(module) -> set[str]:
    """What ``from module import *`` users see: no modules, nothing private, nothing imported
    from outside the package (``Any``, ``annotations``); constants and our own objects count."""
    names = set()
    for name, value in vars(module).items():
        foreign = not getattr(value, "__module__", "cloudmc_frames").startswith("cloudmc_frames")
        if not name.startswith("_") and not inspect.ismodule(value) and not foreign:
            names.add(name)
    return names


def public_functions():
    return {f"{module.__name__}.{name}": getattr(module, name) for module in NAMESPACES
            for name in module.__all__ if inspect.isfunction(getattr(module, name))}


@pytest.mark.parametrize("module", NAMESPACES, ids=lambda m: m.__name__)
def test_all_is_sorted_and_matches_the_namespace_both_ways(module):
    assert module.__all__ == sorted(module.__all__)
    assert [name for name in module.__all__ if not hasattr(module, name)] == []
    assert public_names(module) == set(module.__all__) - {"__version__"}


def test_public_functions_take_at_most_two_positional_parameters():
    for name, func in public_functions().items():
        positional = [p for p in inspect.signature(func).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        limit = 6 if name.rpartition(".")[2] in URL_ORDER else 2
        assert len(positional) <= limit, f"{name} takes {len(positional)} positional parameters"


def test_public_functions_have_a_one_line_summary():
    for name, func in public_functions().items():
        doc = inspect.getdoc(func) or ""
        assert doc and doc.splitlines()[0].endswith((".", ":", ")")), name


def test_lazy_submodules():
    assert cmf.reports.inventory and cmf.widgets.OperationForm
    with pytest.raises(AttributeError, match="nonexistent"):
        _ = cmf.nonexistent


def test_version_matches_the_distribution():
    from importlib.metadata import version
    assert cmf.__version__ == version("cloudmc-frames") == "0.1.0"


def test_one_owner_per_dependency():
    """requests only in the client's modules (the _cache package among them); redis only in _cache/
    (for requests-cache's backend) and the journal; ipywidgets only in widgets/; matplotlib/tabulate
    only in reports/ (frames.py may use DataFrame.to_markdown); pyarrow/duckdb only in snapshots/;
    the sandbox imports nothing of ours."""
    import pathlib
    import re
    root = pathlib.Path(cmf.__file__).parent
    http = r"^((client|_transport|_wire|_retry)\.py|_cache/.*\.py)$"
    owners = {"requests": http, "requests_cache": http, "urllib3": http,
              "redis": r"^(_cache/.*|journal)\.py$",
              "ipywidgets": r"^widgets/", "matplotlib": r"^reports/", "tabulate": r"^reports/",
              "pyarrow": r"^snapshots/", "duckdb": r"^snapshots/",
              "dask": r"^snapshots/sharded\.py$", "distributed": r"^snapshots/sharded\.py$"}
    for path in root.rglob("*.py"):
        rel = path.relative_to(root).as_posix()
        text = path.read_text()
        for lib, allowed in owners.items():
            if re.search(rf"^\s*(import|from) {lib}\b", text, re.M):
                assert re.match(allowed, rel), f"{rel} imports {lib}"
        if rel.startswith("sandbox/"):
            assert not re.search(r"^\s*(from|import) cloudmc_frames(?!\.sandbox)", text, re.M), rel
            assert not re.search(r"^\s*from \.\.", text, re.M), rel
