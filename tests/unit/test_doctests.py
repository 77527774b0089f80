"""The examples in the docstrings of the pure modules run as written."""

import doctest

import pytest

from cloudmc_frames import catalog, client, config, errors, frames, jsonarray, paging
from cloudmc_frames.snapshots import drift, layout, manifest, schema, scopes


@pytest.mark.parametrize("module", [catalog, client, config, errors, frames, jsonarray, paging,
                                    layout, manifest, schema, scopes, drift],
                         ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
