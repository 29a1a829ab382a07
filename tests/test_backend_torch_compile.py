"""torch.compile compiles what Keras's training step calls, not the step's own
frames (keras_snnkd.backend.torch_compile)."""

import pytest

from conftest import TORCH_COMPILE_ONLY, assert_same_logs, compiled_fit
from keras_snnkd.backend import torch_compile



@pytest.mark.parametrize("environ, backend, expected", [
    ({}, "torch", True),
    ({torch_compile.OPT_OUT: "1"}, "torch", True),
    ({torch_compile.OPT_OUT: "0"}, "torch", False),
    ({}, "tensorflow", False),
    ({}, "jax", False),
])
def test_wanted_only_under_pytorch_and_not_opted_out(environ, backend, expected):
    assert torch_compile.wanted(environ, backend) is expected


def test_configure_does_nothing_when_opted_out():
    assert torch_compile.configure({torch_compile.OPT_OUT: "0"}) is False


@TORCH_COMPILE_ONLY
def test_the_installed_keras_has_the_wrapper():
    # If Keras renames or restructures it, configure silently does nothing:
    # this test is what notices.
    assert [c.co_name for c in torch_compile.wrapper_codes()] == [torch_compile.WRAPPER]


@TORCH_COMPILE_ONLY
def test_keras_models_train_with_the_step_it_marks():
    import keras

    assert keras.Sequential.train_step.__code__ in torch_compile.step_codes()
    assert keras.Model.train_step.__code__ in torch_compile.step_codes()


@TORCH_COMPILE_ONLY
def test_keras_steps_frames_are_not_compiled_and_nothing_compiles_again():
    default = compiled_fit(distil=False)
    opted_out = compiled_fit(distil=False, opt_outs=[torch_compile.OPT_OUT])
    first, *later = default["compiled"]
    assert "train_step" not in first and torch_compile.WRAPPER not in first, first
    assert "error_handler" in first  # the model's call (Keras's traceback filter)
    assert later == [[], []]
    # Opted out, Dynamo compiles Keras's wrapper, and the step again at the second
    # call (zero_grad's guards): the checks above can fail.
    assert opted_out["compiled"][0][0] == torch_compile.WRAPPER
    assert "train_step" in opted_out["compiled"][1]
    assert_same_logs(default["logs"], opted_out["logs"], rel=1e-6)


@TORCH_COMPILE_ONLY
def test_distiller_compiling_starts_at_the_step_with_backward():
    default = compiled_fit(distil=True)
    opted_out = compiled_fit(distil=True, opt_outs=[torch_compile.OPT_OUT])
    assert default["compiled"][0][0] == "distill_train_step", default["compiled"]
    assert torch_compile.WRAPPER not in default["compiled"][0]
    assert default["compiled"][1:] == [[], []]
    # Opted out, Dynamo compiles Keras's wrapper first: the check above can fail.
    assert opted_out["compiled"][0][0] == torch_compile.WRAPPER
    assert_same_logs(default["logs"], opted_out["logs"], rel=1e-6)


@TORCH_COMPILE_ONLY
@pytest.mark.parametrize("callees, graphs", [(False, 1), (True, 0)])
def test_skip_frames_skips_the_frame_and_with_callees_what_it_calls(callees, graphs):
    import torch
    from torch._dynamo.testing import CompileCounter

    def inner(x):
        return x * 3

    def outer(x):
        return inner(x) + 1

    assert torch_compile.skip_frames([outer.__code__], callees=callees) is True
    counter = CompileCounter()
    assert float(torch.compile(outer, backend=counter)(torch.ones(()))) == 4.0
    # The outer frame is never traced: a graph, if any, is inner's alone.
    assert counter.frame_count == graphs
    assert counter.op_count == graphs


@TORCH_COMPILE_ONLY
def test_skip_frames_has_nothing_to_mark_without_codes():
    assert torch_compile.skip_frames([]) is False
