"""Average pooling over tiling windows as a reshape and a mean (layers/tiled_pooling.py):
the same values and gradients as Keras's pooling layer on every backend; TimeFolded
pools that way on PyTorch, where nothing is then kept for the backward pass."""

import json

import keras
import numpy as np
import pytest

from keras_snnkd import layers
from keras_snnkd.backend import value_and_grad
from keras_snnkd.layers.tiled_pooling import tiled_average_pool, tiles

from conftest import SAVED_FOR_BACKWARD, TORCH_COMPILE_ONLY, run_python, to_numpy

POOLS = {1: keras.layers.AveragePooling1D, 2: keras.layers.AveragePooling2D}


class SubclassedPooling(keras.layers.AveragePooling2D):
    """A subclass may change ``call``: it is always called as it is."""


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("pool_size, spatial", [
    ((2,), (8,)), ((3,), (7,)),                      # 1D; 7 leaves a remainder of 1
    ((2, 2), (6, 6)), ((2, 3), (5, 7)), ((1, 4), (3, 9)),  # 2D, remainders on both axes
])
def test_values_and_gradients_equal_keras_pooling(rng, data_format, pool_size, spatial):
    layer = POOLS[len(pool_size)](pool_size, data_format=data_format)
    channels = 3
    shape = ((4, channels, *spatial) if data_format == "channels_first"
             else (4, *spatial, channels))
    x = rng.normal(size=shape).astype("float32")
    weights = keras.ops.convert_to_tensor(
        rng.normal(size=layer.compute_output_shape(shape)).astype("float32"))
    assert tiles(layer, keras.KerasTensor(shape))
    loss = lambda pool: (lambda v: keras.ops.sum(pool(v) * weights))
    value, (grad,) = value_and_grad(loss(lambda v: tiled_average_pool(layer, v)), [x])
    expected, (expected_grad,) = value_and_grad(loss(layer), [x])
    np.testing.assert_allclose(value, expected, rtol=1e-5)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(to_numpy(tiled_average_pool(layer, x)), to_numpy(layer(x)),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("layer, inputs", [
    (keras.layers.AveragePooling2D(2, padding="same"), keras.KerasTensor((None, 6, 6, 3))),
    (keras.layers.AveragePooling2D(2, strides=1), keras.KerasTensor((None, 6, 6, 3))),
    (keras.layers.AveragePooling2D((2, 2), strides=(2, 1)), keras.KerasTensor((None, 6, 6, 3))),
    (keras.layers.MaxPooling2D(2), keras.KerasTensor((None, 6, 6, 3))),
    (keras.layers.AveragePooling3D(2), keras.KerasTensor((None, 4, 4, 4, 3))),
    (SubclassedPooling(2), keras.KerasTensor((None, 6, 6, 3))),
    (keras.layers.AveragePooling2D(2, activity_regularizer="l2"),
     keras.KerasTensor((None, 6, 6, 3))),
    (keras.layers.AveragePooling2D(2), keras.KerasTensor((None, 6, 6, 3), dtype="int32")),
    (keras.layers.AveragePooling2D(2), keras.KerasTensor((None, 6, 3))),       # wrong rank
    (keras.layers.AveragePooling2D(2), keras.KerasTensor((None, None, 6, 3))),  # not static
    (keras.layers.AveragePooling2D(3), keras.KerasTensor((None, 2, 6, 3))),     # no window
], ids=["same", "stride1", "strides_differ", "max", "3d", "subclass", "regularizer", "int",
        "rank", "dynamic", "too_small"])
def test_only_plain_valid_tiling_average_pooling_tiles(layer, inputs):
    assert not tiles(layer, inputs)


def test_a_layer_that_does_not_tile_is_refused_by_name(rng):
    layer = keras.layers.AveragePooling2D(2, strides=1, name="overlapping")
    with pytest.raises(ValueError, match=r"`layer` \(overlapping\) does not tile"):
        tiled_average_pool(layer, rng.normal(size=(1, 4, 4, 1)).astype("float32"))


@pytest.mark.parametrize("pool", [keras.layers.AveragePooling2D(2),
                                  SubclassedPooling(2)], ids=["keras_layer", "subclass"])
def test_time_folded_pools_each_step_as_keras_does(rng, pool):
    x = rng.integers(0, 2, size=(2, 3, 7, 6, 4)).astype("float32")  # spikes; 7 rows: crop
    folded = to_numpy(layers.TimeFolded(pool)(x))
    per_step = np.stack([to_numpy(pool(x[:, t])) for t in range(3)], axis=1)
    assert folded.shape == (2, 3, 3, 3, 4)
    np.testing.assert_allclose(folded, per_step, rtol=1e-6)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_time_folded_pooling_keeps_the_compute_dtype(rng, policy):
    pool = layers.TimeFolded(keras.layers.AveragePooling2D(2, dtype=policy), dtype=policy)
    x = rng.integers(0, 2, size=(2, 3, 4, 4, 2)).astype("float32")
    y = pool(x)
    assert keras.backend.standardize_dtype(y.dtype) == policy.removeprefix("mixed_")
    np.testing.assert_allclose(to_numpy(keras.ops.cast(y, "float32")),
                               to_numpy(keras.layers.AveragePooling2D(2)(x.reshape(6, 4, 4, 2)))
                               .reshape(2, 3, 2, 2, 2), atol=1e-2)


# One compiled training step of LIF -> TimeFolded(pooling) on spikes, with Keras's
# pooling layer as TimeFolded tiles it and as a subclass (called as it is): the bytes
# PyTorch's partitioner saves for the backward pass, from its debug log.
SAVED = SAVED_FOR_BACKWARD + """
import json
import keras, numpy as np
from keras_snnkd.layers import MeanOverTime, TimeFolded
from keras_snnkd.neurons import LIF

class Subclassed(keras.layers.AveragePooling2D):
    pass

x = keras.ops.convert_to_tensor(np.ones((8, 4, 16, 16, 8), "float32"))
y = keras.ops.convert_to_tensor(np.zeros((8, 8, 8, 8), "float32"))
result = {}
for name, pool in [("tiled", keras.layers.AveragePooling2D(2)), ("layer", Subclassed(2))]:
    model = keras.Sequential([keras.Input((4, 16, 16, 8)),
                              TimeFolded(keras.layers.Conv2D(8, 1)), LIF(threshold=0.5),
                              TimeFolded(pool), MeanOverTime()])
    model.compile(keras.optimizers.SGD(), "mse", jit_compile=True)
    saved.clear()
    model.train_on_batch(x, y)
    result[name] = max(saved)
print(json.dumps(result))
"""


@TORCH_COMPILE_ONLY
def test_torch_backward_keeps_no_copy_of_the_pooled_spikes():
    saved = json.loads(run_python(SAVED, "torch").strip().splitlines()[-1])
    spikes = 8 * 4 * 16 * 16 * 8 * 4  # bytes of the LIF layer's float32 spikes
    assert saved["layer"] - saved["tiled"] >= spikes, saved
