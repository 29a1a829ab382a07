"""Keras's loss, loss tracker and metrics run as plain PyTorch in a compiled
training step (keras_snnkd.backend.torch_eager_loss)."""

import pytest

from conftest import TORCH_COMPILE_ONLY, assert_same_logs, compiled_fit
from keras_snnkd.backend import torch_eager_loss

# The frames the setting runs as plain PyTorch.
EAGER = {"_compute_loss", "compute_metrics", "update_state"}


@pytest.mark.parametrize("environ, backend, expected", [
    ({}, "torch", True),
    ({torch_eager_loss.OPT_OUT: "1"}, "torch", True),
    ({torch_eager_loss.OPT_OUT: "0"}, "torch", False),
    ({}, "tensorflow", False),
    ({}, "jax", False),
])
def test_wanted_only_under_pytorch_and_not_opted_out(environ, backend, expected):
    assert torch_eager_loss.wanted(environ, backend) is expected


def test_configure_does_nothing_when_opted_out():
    assert torch_eager_loss.configure({torch_eager_loss.OPT_OUT: "0"}) is False


def test_the_installed_keras_has_every_function_it_marks():
    # If Keras renames one, configure silently leaves it compiled: this test notices.
    assert sorted(c.co_name for c in torch_eager_loss.eager_codes()) == sorted(EAGER)


@TORCH_COMPILE_ONLY
def test_loss_and_metrics_are_not_compiled_and_give_the_same_logs():
    default = compiled_fit(distil=False)
    opted_out = compiled_fit(distil=False, opt_outs=[torch_eager_loss.OPT_OUT])
    first = set(default["compiled"][0])
    assert not first & EAGER, first
    assert {"error_handler", "apply"} <= first  # the model's call and the optimizer
    # Nothing the loss or the metrics call is compiled as a frame of its own instead.
    assert first <= set(opted_out["compiled"][0])
    # Opted out, they are compiled: the checks above can fail.
    assert EAGER <= set(opted_out["compiled"][0])
    assert default["compiled"][1:] == opted_out["compiled"][1:] == [[], []]
    assert set(default["logs"][0]) == {"loss", "accuracy"}
    assert_same_logs(default["logs"], opted_out["logs"], rel=1e-5)
