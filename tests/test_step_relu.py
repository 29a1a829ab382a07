"""StepReLU: values, straight-through gradients, serialization, and exact equality
with an IF neuron's rate (with the neurons' `initial_membrane` option it relies on)."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_snnkd.backend import value_and_grad
from keras_snnkd.layers import RepeatEncoder, StepReLU
from keras_snnkd.neurons import IF, LIF

from conftest import to_numpy
from test_neurons import numpy_neuron


def if_rate(x, timesteps, threshold, shift):
    """Rate of an IF neuron (soft reset, strict firing, v0 = shift * theta) fed x for T steps."""
    neuron = IF(threshold=threshold, initial_membrane=shift * threshold)
    return to_numpy(neuron(RepeatEncoder(timesteps)(x))).mean(axis=1)


# -- IF rate == StepReLU, exactly -------------------------------------------

@pytest.mark.parametrize("timesteps", [1, 2, 3, 4, 8, 16, 32])
@pytest.mark.parametrize("shift", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("threshold", [0.5, 2.0])
def test_if_rate_equals_step_relu_on_a_grid_with_ties(timesteps, shift, threshold):
    # x = m * theta / 64 is exact in float32, so the grid hits the steps
    # (x * T / theta + shift integer) exactly: both take the lower level there.
    x = (np.arange(-80, 160) / 64 * threshold).astype("float32")[None]
    assert np.any(np.mod(x * timesteps / threshold + shift, 1.0) == 0)  # ties present
    step = to_numpy(StepReLU(timesteps, threshold, shift)(x))
    rate = if_rate(x, timesteps, threshold, shift)
    np.testing.assert_array_equal(np.round(rate * timesteps),
                                  np.round(step * timesteps / threshold))
    np.testing.assert_allclose(rate * threshold, step, rtol=1e-6, atol=0)


@pytest.mark.parametrize("timesteps", [1, 2, 4, 8, 16, 32])
def test_if_rate_equals_step_relu_on_random_currents(rng, timesteps):
    threshold = float(rng.uniform(0.3, 3.0))
    x = rng.normal(0.3 * threshold, threshold, size=(4, 3, 500)).astype("float32")
    step = to_numpy(StepReLU(timesteps, threshold)(x))
    rate = if_rate(x, timesteps, threshold, 0.5)
    np.testing.assert_array_equal(rate * timesteps, np.round(step * timesteps / threshold))


def test_values_levels_clip_and_ties():
    x = np.array([-1.0, 0.0, 0.1, 0.125, 0.13, 0.375, 0.9, 1.0, 7.0], "float32")
    # levels of 1/4: ceil(4x + 0.5) - 1, clipped to [0, 4]; x = 0.125 and 0.375 are ties
    np.testing.assert_array_equal(to_numpy(StepReLU(4, 1.0)(x)),
                                  [0, 0, 0, 0, 0.25, 0.25, 1, 1, 1])
    np.testing.assert_array_equal(to_numpy(StepReLU(2, 4.0, shift=0.0)(x * 4)),
                                  [0, 0, 0, 0, 0, 0, 2, 2, 4])


# -- gradients ------------------------------------------------------------

def test_input_gradient_is_straight_through_inside_the_range():
    layer = StepReLU(4, 1.0)
    x = np.array([-1.0, -0.2, 0.05, 0.3, 0.9, 1.2, 3.0], "float32")
    _, (grad,) = value_and_grad(lambda x: ops.sum(layer(x) * ops.arange(1, 8, dtype="float32")),
                                [x])
    # inside: 0 <= ceil(4x + 0.5) - 1 <= 4, i.e. -0.125 < x <= 1.125
    np.testing.assert_array_equal(grad, [0, 0, 3, 4, 5, 0, 0])


def test_threshold_gradient_trains_theta():
    x = np.array([[-1.0, 0.05, 0.3, 0.9, 1.5]], "float32")
    model = keras.Sequential([keras.Input((5,)), StepReLU(4, 1.0)])
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=lambda y_true, y_pred: ops.sum(y_pred, axis=-1))
    model.fit(x, np.zeros((1, 5), "float32"), epochs=1, batch_size=1, verbose=0)
    # dy/dtheta: below 0; inside n/T - x/theta = -0.05, -0.05, 0.1; above (n_raw = 6 > 4) 1
    theta = float(to_numpy(model.layers[0].threshold_weight))
    assert theta == pytest.approx(1.0 - 0.1 * 1.0, abs=1e-6)


def test_fixed_threshold_is_not_trainable():
    layer = StepReLU(4, 1.5, trainable_threshold=False)
    layer.build((None, 3))
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 1


# -- as an activation in any Keras ANN -------------------------------------

def test_drop_in_activation_trains_and_round_trips(tmp_path, rng):
    x = rng.normal(size=(64, 6)).astype("float32")
    y = (x[:, :1] > 0).astype("float32")
    model = keras.Sequential([keras.Input((6,)),
                              keras.layers.Dense(8, activation=StepReLU(4, 1.0)),
                              keras.layers.Dense(8), StepReLU(3, 2.0, shift=0.25),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy")
    model.fit(x, y, epochs=3, verbose=0)
    thresholds = [to_numpy(w) for w in model.weights if w.name == "threshold"]
    assert len(thresholds) == 2 and not np.allclose(thresholds, [1.0, 2.0])
    path = tmp_path / "ann.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_config_round_trip():
    layer = StepReLU(levels=6, threshold=0.7, shift=0.25, trainable_threshold=False, name="q")
    clone = StepReLU.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_mixed_precision_computes_in_float16():
    out = StepReLU(4, 1.0, dtype="mixed_float16")(np.array([0.3, 0.9], "float32"))
    assert keras.backend.standardize_dtype(out.dtype) == "float16"
    np.testing.assert_array_equal(to_numpy(out), [0.25, 1.0])


@pytest.mark.parametrize("kwargs, error, match", [
    ({"levels": 0}, ValueError, "`levels` must be >= 1, got 0"),
    ({"levels": -3}, ValueError, "`levels` must be >= 1"),
    ({"levels": 2.0}, TypeError, "`levels` must be a positive int"),
    ({"levels": True}, TypeError, "`levels` must be a positive int"),
    ({"levels": 4, "threshold": 0.0}, ValueError, "`threshold` must be > 0"),
    ({"levels": 4, "threshold": "1"}, TypeError, "`threshold` must be a number"),
    ({"levels": 4, "shift": -0.1}, ValueError, "`shift` must be >= 0"),
    ({"levels": 4, "shift": 1.5}, ValueError, "`shift` must be <= 1"),
    ({"levels": 4, "trainable_threshold": "yes"}, TypeError,
     "`trainable_threshold` must be a bool"),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        StepReLU(**kwargs)


def test_non_float_inputs():
    with pytest.raises(TypeError, match="StepReLU: `inputs` must have a floating-point dtype"):
        StepReLU(4)(np.zeros((2, 3), "int32"))


# -- the neurons' initial_membrane option ------------------------------------

@pytest.mark.parametrize("unroll", [True, False])
@pytest.mark.parametrize("v0", [0.5, -0.3])
def test_initial_membrane_starts_the_neurons_there(rng, unroll, v0):
    x = rng.uniform(-0.5, 1.5, size=(3, 9, 5)).astype("float32")
    spikes, membrane = IF(initial_membrane=v0, unroll=unroll, return_membrane=True)(x)
    ref_s, ref_v = numpy_neuron(x, lambda v, u: v + u, v0=v0)
    np.testing.assert_array_equal(to_numpy(spikes), ref_s)
    np.testing.assert_allclose(to_numpy(membrane), ref_v, atol=1e-5)
    spikes = LIF(beta=0.8, initial_membrane=v0, unroll=unroll)(x)
    ref_s, _ = numpy_neuron(x, lambda v, u: 0.8 * v + u, v0=v0)
    np.testing.assert_array_equal(to_numpy(spikes), ref_s)


def test_initial_membrane_default_is_rest_and_round_trips(tmp_path, rng):
    assert IF().get_config()["initial_membrane"] is None
    x = rng.uniform(0, 1, size=(2, 4, 3)).astype("float32")
    np.testing.assert_array_equal(to_numpy(IF(initial_membrane=0.0)(x)), to_numpy(IF()(x)))
    model = keras.Sequential([keras.Input((4, 3)), LIF(initial_membrane=0.6, threshold=1.2)])
    path = tmp_path / "lif.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.layers[0].initial_membrane == 0.6
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("value, error, match", [
    ("0.5", TypeError, "IF: `initial_membrane` must be a number"),
    (float("nan"), ValueError, "IF: `initial_membrane` must be finite"),
])
def test_initial_membrane_bad_values(value, error, match):
    with pytest.raises(error, match=match):
        IF(initial_membrane=value)
