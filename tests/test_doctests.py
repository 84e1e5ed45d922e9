"""Run the docstring examples of every installed ldmatte module."""
import doctest
import importlib
import pkgutil

import pytest

import ldmatte

MODULES = sorted(m.name for m in pkgutil.walk_packages(ldmatte.__path__, "ldmatte.") if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:  # an optional extra (e.g. gen: diffusers) that is not installed
        if exc.name and exc.name.split(".")[0] == "ldmatte":
            raise
        pytest.skip(f"needs {exc.name}, not installed")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_public_functions_have_examples():
    missing = [name for name in ldmatte.__all__ if callable(getattr(ldmatte, name))
               and not isinstance(getattr(ldmatte, name), type) and ">>>" not in (getattr(ldmatte, name).__doc__ or "")]
    assert not missing, f"public functions without an example: {missing}"
