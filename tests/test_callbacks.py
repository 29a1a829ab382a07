"""keras_snnkd.callbacks: CompileOnce."""

import keras
import numpy as np
import pytest

from conftest import BACKEND
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


@pytest.mark.skipif(BACKEND != "torch", reason="torch.compile guards on .grad; TensorFlow "
                                                "and JAX keep no gradients on the weights")
@pytest.mark.parametrize("callbacks, recompiles", [([CompileOnce()], False), ([], True)],
                         ids=["with CompileOnce", "without"])
def test_compiled_training_step_compiles_once_with_compile_once(callbacks, recompiles):
    # Without the callback Keras's step compiles again at the second batch (the
    # first left gradients on the weights); the second case shows the test sees it.
    import torch

    torch._dynamo.reset()
    with torch._dynamo.config.patch(error_on_recompile=True):
        if recompiles:
            with pytest.raises(torch._dynamo.exc.RecompileError, match="grad"):
                fit(dense_model(), callbacks)
        else:
            fit(dense_model(), callbacks)
    torch._dynamo.reset()
