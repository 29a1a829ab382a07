"""Quantization-aware fine-tuning with keras.quantizers, on every backend."""

import keras
import numpy as np
import pytest

from keras_snnkd import datasets, models
from keras_snnkd.export import quantization_aware_finetune
from keras_snnkd.export.qat import _fake_quant_clone


def test_fake_quant_kernel_is_on_the_int8_grid():
    dense = keras.layers.Dense(5)
    dense.build((None, 7))
    clone = _fake_quant_clone(dense)
    clone.build((None, 7))
    clone.set_weights(dense.get_weights())
    raw = keras.ops.convert_to_numpy(dense.kernel)
    seen = keras.ops.convert_to_numpy(clone.kernel)
    step = np.abs(raw).max(axis=0) / 127.0
    codes = seen / step
    np.testing.assert_allclose(codes, np.round(codes), atol=1e-3)
    np.testing.assert_allclose(seen, raw, atol=step.max() / 2 + 1e-6)


def test_finetune_trains_and_updates_the_model():
    (x_train, y_train), _ = datasets.load_digits()
    model = models.dense_snn(timesteps=4, input_shape=(8, 8, 1), hidden=(32,))
    before = [w.copy() for w in model.get_weights()]
    history = quantization_aware_finetune(model, x_train[:512], y_train[:512], epochs=2,
                                          learning_rate=1e-2, verbose=0)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses)) and losses[1] < losses[0]
    assert all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


@pytest.mark.parametrize("kwargs, error, match", [
    ({"epochs": 0}, ValueError, "`epochs` must be >= 1"),
    ({"learning_rate": -1.0}, ValueError, "`learning_rate` must be > 0"),
])
def test_finetune_arguments(kwargs, error, match):
    model = models.dense_snn(timesteps=2, input_shape=(4,), hidden=(3,))
    with pytest.raises(error, match=match):
        quantization_aware_finetune(model, np.zeros((2, 4), "float32"), np.zeros(2), **kwargs)
