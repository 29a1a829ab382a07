"""Every docstring example runs (doctest) on the current backend."""

import doctest
import importlib
import pkgutil

import pytest

import keras_snnkd

MODULES = sorted(
    name for _, name, _ in pkgutil.walk_packages(keras_snnkd.__path__, "keras_snnkd.")
    if ".backend." not in name and name != "keras_snnkd.cli"
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
