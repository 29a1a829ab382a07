"""keras_snnkd.callbacks: CompileOnce."""

import os

import keras
import numpy as np
import pytest

from conftest import BACKEND, run_python
from keras_snnkd.backend import torch_compile
from keras_snnkd.callbacks import CompileOnce


def dense_model():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(keras.optimizers.Adam(0.1), "mse",
                  jit_compile=BACKEND == "torch")  # XLA's compile time is not the point
    return model


def fit(model, callbacks):
    x = np.linspace(-1, 1, 32, dtype="float32").reshape(8, 4)
    y = np.linspace(0, 1, 24, dtype="float32").reshape(8, 3)
    return model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0,
                     callbacks=callbacks).history["loss"]


def test_compile_once_leaves_training_unchanged():
    with_callback, without = dense_model(), dense_model()
    without.set_weights(with_callback.get_weights())
    np.testing.assert_allclose(fit(with_callback, [CompileOnce()]), fit(without, []),
                               rtol=1e-6)
    for a, b in zip(with_callback.get_weights(), without.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


TORCH_ONLY = pytest.mark.skipif(BACKEND != "torch", reason="torch.compile guards on .grad; "
                                "TensorFlow and JAX keep no gradients on the weights")

# Fits with error_on_recompile set, in a fresh process opted out of keras_snnkd's
# torch.compile setting (whose skipped frames make the callback unnecessary);
# prints what the fit raised.
OPTED_OUT_FIT = """
import os
os.environ[{opt_out!r}] = "0"
import sys, torch
sys.path.insert(0, {tests!r})
from keras_snnkd.callbacks import CompileOnce
from test_callbacks import dense_model, fit
with torch._dynamo.config.patch(error_on_recompile=True):
    try:
        fit(dense_model(), {callbacks})
        print("no error")
    except torch._dynamo.exc.RecompileError as error:
        print("RecompileError", "grad" in str(error))
"""


@TORCH_ONLY
@pytest.mark.parametrize("callbacks, raised", [("[CompileOnce()]", "no error"),
                                               ("[]", "RecompileError True")],
                         ids=["with CompileOnce", "without"])
def test_compile_once_keeps_an_opted_out_step_from_compiling_again(callbacks, raised):
    # Opted out, Keras's step compiles again at the second batch (the first left
    # gradients on the weights); the second case shows the test sees it.
    out = run_python(OPTED_OUT_FIT.format(opt_out=torch_compile.OPT_OUT,
                                          tests=os.path.dirname(__file__),
                                          callbacks=callbacks), "torch")
    assert out.strip().splitlines()[-1] == raised


@TORCH_ONLY
def test_compiled_training_step_compiles_once_by_default():
    # keras_snnkd's torch.compile setting alone: no callback needed.
    import torch

    torch._dynamo.reset()
    with torch._dynamo.config.patch(error_on_recompile=True):
        fit(dense_model(), [])
    torch._dynamo.reset()
