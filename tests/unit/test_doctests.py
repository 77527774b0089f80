"""The examples in the docstrings of the pure modules run as written."""

import doctest

import pytest

from cloudmc_frames import (
    _cache,
    catalog,
    client,
    config,
    errors,
    frames,
    journal,
    jsonarray,
    operation_catalog,
    options,
    paging,
    spans,
    tasks,
    usage,
)
from cloudmc_frames._cache import memory, sealed, sqlite
from cloudmc_frames.cli import output
from cloudmc_frames.reports import completeness, pieces, textfit
from cloudmc_frames.snapshots import compare, drift, layout, manifest, schema, scopes

MODULES = [_cache, memory, sealed, sqlite, catalog, client, config, errors, frames, journal, jsonarray,
           operation_catalog, options, paging, spans, tasks, usage, layout, manifest, schema, scopes, drift,
           compare, completeness, pieces, textfit, output]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
