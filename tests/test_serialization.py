"""`.keras` round trips: same backend, and saved here / loaded under the others."""

import json

import keras
import numpy as np
import pytest

from keras_snnkd import layers, models, neurons

from conftest import BACKEND, BACKENDS, run_python


def spiking_model(timesteps=3):
    """Every layer type of the package in one functional model."""
    inputs = keras.Input((6, 6, 1))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    x = layers.RepeatEncoder(timesteps)(x)
    x = neurons.LIF(beta=0.8, surrogate="sigmoid", trainable_threshold=True)(x)
    x = layers.TimeFolded(keras.layers.BatchNormalization())(x)
    x = neurons.IF(reset="zero", v_reset=-0.1)(x)
    x = layers.TimeFolded(keras.layers.Flatten())(x)
    x = layers.TimeFolded(keras.layers.Dense(12), fold_steps=2)(x)  # in two chunks
    spikes, membrane = neurons.ParametricLIF(init_tau=3.0, return_membrane=True)(x)
    x = neurons.LIF.from_snntorch(beta=0.7)(spikes)
    x = neurons.LIF.from_spikingjelly(tau=4.0, v_reset=None, surrogate="triangle")(x)
    logits = layers.MeanOverTime()(layers.TimeFolded(keras.layers.Dense(5))(x))
    count = layers.SpikeCount()(x)
    last = layers.LastMembrane(beta=0.5)(membrane)
    return keras.Model(inputs, [logits, count, last])


def sample(seed=0):
    return np.random.default_rng(seed).uniform(0, 2, size=(4, 6, 6, 1)).astype("float32")


def perturb(model, seed=1):
    """Non-default weights, so a lost weight would change the predictions."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        w.assign(np.asarray(keras.ops.convert_to_numpy(w))
                 + rng.normal(0, 0.1, size=w.shape).astype("float32"))


def test_round_trip_same_backend(tmp_path):
    model = spiking_model()
    perturb(model)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    for a, b in zip(model.predict(sample(), verbose=0), loaded.predict(sample(), verbose=0)):
        np.testing.assert_array_equal(a, b)
    as_json = lambda config: json.loads(json.dumps(config))  # tuples -> lists
    assert as_json(loaded.get_config()) == as_json(model.get_config())


def test_reference_network_round_trip(tmp_path):
    model = models.reference_snn(timesteps=2)
    path = tmp_path / "ref.keras"
    model.save(path)
    x = np.random.default_rng(0).uniform(0, 1, size=(3, 28, 28, 1)).astype("float32")
    np.testing.assert_array_equal(model.predict(x, verbose=0),
                                  keras.saving.load_model(path).predict(x, verbose=0))


LOAD_AND_PREDICT = """
import keras, numpy as np
import keras_snnkd.layers, keras_snnkd.neurons  # registers the classes
model = keras.saving.load_model({path!r})
x = np.load({x_path!r})
outputs = model.predict(x, verbose=0)
np.savez({out_path!r}, *outputs)
print(keras.backend.backend())
"""


@pytest.mark.parametrize("other", [b for b in BACKENDS if b != BACKEND])
def test_saved_here_loads_under_other_backend(tmp_path, other):
    model = spiking_model()
    perturb(model)
    path, x_path, out_path = (str(tmp_path / n) for n in ("m.keras", "x.npy", "out.npz"))
    model.save(path)
    np.save(x_path, sample())
    stdout = run_python(LOAD_AND_PREDICT.format(path=path, x_path=x_path, out_path=out_path),
                        other)
    assert stdout.strip().endswith(other)
    theirs = np.load(out_path)
    ours = model.predict(sample(), verbose=0)
    for i, a in enumerate(ours):
        b = theirs[f"arr_{i}"]
        if i == 1:  # spike counts: exactly equal
            np.testing.assert_array_equal(a, b)
        else:  # conv/dense kernels round differently across backends
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
