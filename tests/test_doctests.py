"""Run the docstring examples of the installed public modules."""
import doctest
import importlib

import pytest

MODULES = ["ldmatte.label", "ldmatte.caar", "ldmatte.pad", "ldmatte.refine"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
