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
    default = compiled_fit(distil=False, evaluate=True)
    opted_out = compiled_fit(distil=False, opt_outs=[torch_eager_loss.OPT_OUT], evaluate=True)
    (first, *later, evaluated), (first_out, *later_out, evaluated_out) = (
        default["compiled"], opted_out["compiled"])
    assert not set(first) & EAGER, first
    assert {"error_handler", "apply"} <= set(first)  # the model's call and the optimizer
    # Nothing the loss or the metrics call is compiled as a frame of its own instead.
    assert set(first) <= set(first_out)
    # Opted out, they are compiled: the checks above can fail.
    assert EAGER <= set(first_out)
    assert later == later_out == [[], []]
    # Keras's test step on tensors traces into one graph, the loss and the metrics
    # inlined in it: compiled there as before.
    assert evaluated == evaluated_out == ["one_step_on_data"]
    assert set(default["logs"][0]) == {"loss", "accuracy"}
    assert_same_logs(default["logs"], opted_out["logs"], rel=1e-5)
