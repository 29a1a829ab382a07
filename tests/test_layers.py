import copy

import keras
import numpy as np
import pytest

from keras_snnkd import layers
from keras_snnkd.neurons import LIF

from conftest import to_numpy


def test_repeat_encoder(rng):
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    y = to_numpy(layers.RepeatEncoder(4)(x))
    assert y.shape == (2, 4, 5, 3)
    for t in range(4):
        np.testing.assert_array_equal(y[:, t], x)


def test_poisson_encoder_rates_and_reproducibility(rng):
    x = rng.uniform(0, 1, size=(4, 300)).astype("float32")
    a = to_numpy(layers.PoissonEncoder(64, seed=7)(x))
    b = to_numpy(layers.PoissonEncoder(64, seed=7)(x))
    c = to_numpy(layers.PoissonEncoder(64, seed=8)(x))
    assert a.shape == (4, 64, 300) and set(np.unique(a)) <= {0.0, 1.0}
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # the empirical rate estimates the pixel value (binomial std <= 0.0625)
    assert np.abs(a.mean(axis=1) - x).max() < 0.3
    assert abs(float(np.mean(a.mean(axis=1) - x))) < 0.01
    # gain scales the rate; a zero input never fires
    assert to_numpy(layers.PoissonEncoder(8, seed=0)(np.zeros((2, 9), "float32"))).sum() == 0
    half = to_numpy(layers.PoissonEncoder(400, gain=0.5, seed=1)(np.ones((1, 400), "float32")))
    assert abs(half.mean() - 0.5) < 0.01


def test_poisson_encoder_draws_fresh_spikes_each_call():
    enc = layers.PoissonEncoder(8, seed=3)
    x = np.full((1, 500), 0.5, "float32")
    assert not np.array_equal(to_numpy(enc(x)), to_numpy(enc(x)))


def test_latency_encoder_one_spike_at_the_right_step(rng):
    x = rng.uniform(0, 1, size=(3, 40)).astype("float32")
    x[0, :5] = 0.0
    y = to_numpy(layers.LatencyEncoder(10)(x))
    assert y.shape == (3, 10, 40)
    counts = y.sum(axis=1)
    assert np.all(counts[0, :5] == 0) and np.all(counts[x > 0] == 1)
    first = np.argmax(y, axis=1)
    expected = np.round((1 - x) * 9)
    np.testing.assert_array_equal(first[x > 0], expected[x > 0])
    quiet = to_numpy(layers.LatencyEncoder(10, threshold=0.5)(x))
    assert np.all(quiet.sum(axis=1)[x <= 0.5] == 0)


def test_readouts(rng):
    x = rng.normal(size=(2, 6, 3)).astype("float32")
    np.testing.assert_allclose(to_numpy(layers.MeanOverTime()(x)), x.mean(1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(to_numpy(layers.SpikeCount()(x)), x.sum(1), rtol=1e-5, atol=1e-6)
    v = np.zeros((2, 3), "float32")
    for t in range(6):
        v = 0.8 * v + x[:, t]
    np.testing.assert_allclose(to_numpy(layers.LastMembrane(beta=0.8)(x)), v, rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="only TensorFlow traces a function with an unknown number of steps "
                           "(JAX and PyTorch see concrete shapes)")
def test_last_membrane_with_unknown_time_differentiates_under_xla(rng):
    # With no static T the readout loops with keras_snnkd.backend.scan, whose
    # TensorFlow loop (unlike Keras's scan) XLA can differentiate.
    import tensorflow as tf

    layer = layers.LastMembrane(beta=0.8)
    w = rng.normal(size=(2, 3)).astype("float32")

    @tf.function(jit_compile=True, input_signature=[tf.TensorSpec([2, None, 3])])
    def value_and_grad(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            v = layer(x)
            y = tf.reduce_sum(v * w)
        return v, tape.gradient(y, x)

    for steps in (5, 7):
        x = rng.normal(size=(2, steps, 3)).astype("float32")
        decay = 0.8 ** np.arange(steps - 1, -1, -1, dtype="float32")[None, :, None]
        v, grad = value_and_grad(x)
        np.testing.assert_allclose(v.numpy(), (x * decay).sum(1), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(grad.numpy(), w[:, None, :] * decay, rtol=1e-5, atol=1e-6)


def test_time_folded_equals_per_step_application(rng):
    x = rng.normal(size=(3, 4, 8, 8, 2)).astype("float32")
    conv = keras.layers.Conv2D(5, 3, strides=2, padding="same")
    folded = to_numpy(layers.TimeFolded(conv)(x))
    assert folded.shape == (3, 4, 4, 4, 5)
    for t in range(4):
        np.testing.assert_allclose(folded[:, t], to_numpy(conv(x[:, t])), rtol=1e-5, atol=1e-5)


def test_time_folded_batchnorm_uses_batch_and_time_statistics(rng):
    x = rng.normal(2.0, 3.0, size=(8, 5, 4)).astype("float32")
    bn = layers.TimeFolded(keras.layers.BatchNormalization(momentum=0.0))
    y = to_numpy(bn(x, training=True))
    np.testing.assert_allclose(y.reshape(-1, 4).mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(to_numpy(bn.layer.moving_mean), x.reshape(-1, 4).mean(0),
                               rtol=1e-4)


class _ShapeRecorder(keras.layers.Dense):
    """A Dense that records the leading dimension of every input it is called on."""

    def __init__(self, units):
        super().__init__(units)
        self.seen = []

    def call(self, inputs):
        self.seen.append(inputs.shape[0])
        return super().call(inputs)


def test_time_folded_runs_long_sequences_in_chunks_of_fold_steps(rng):
    x = rng.normal(size=(3, 10, 5)).astype("float32")
    recorder = _ShapeRecorder(4)
    chunked = to_numpy(layers.TimeFolded(recorder, fold_steps=4)(x))
    assert recorder.seen == [12, 9, 9]  # batch 3 times 4, 3 and 3 steps
    recorder.seen = []
    whole = to_numpy(layers.TimeFolded(recorder, fold_steps=None)(x))
    assert recorder.seen == [30]
    np.testing.assert_allclose(chunked, whole, rtol=1e-6, atol=1e-6)


def test_time_folded_chunks_only_per_sample_layers_with_static_time():
    fold = lambda layer: layers.TimeFolded(layer, fold_steps=4)
    assert fold(keras.layers.Dense(2)).chunk_sizes(10) == [4, 3, 3]
    assert fold(keras.layers.Conv2D(2, 3)).chunk_sizes(8) == [4, 4]
    assert fold(keras.layers.Dense(2)).chunk_sizes(9) == [3, 3, 3]
    assert fold(keras.layers.Dense(2)).chunk_sizes(4) == [4]
    assert fold(keras.layers.Dense(2)).chunk_sizes(None) == [None]
    assert layers.TimeFolded(keras.layers.Dense(2), fold_steps=None).chunk_sizes(10) == [10]
    assert layers.TimeFolded(keras.layers.Dense(2), fold_steps=1).chunk_sizes(3) == [1, 1, 1]
    # batch statistics span all steps; a regularizer's loss is added per call
    assert fold(keras.layers.BatchNormalization()).chunk_sizes(10) == [10]
    assert fold(keras.layers.Dense(2, activity_regularizer="l2")).chunk_sizes(10) == [10]
    assert fold(keras.layers.Lambda(lambda t: t)).chunk_sizes(10) == [10]


def test_time_folded_auto_folds_as_the_backend_says():
    auto = layers.TimeFolded(keras.layers.Dense(2))
    assert auto.fold_steps == "auto"
    expected = {"tensorflow": [4, 3, 3], "jax": [4, 3, 3], "torch": [10]}
    assert auto.chunk_sizes(10) == expected[keras.backend.backend()]
    assert auto.get_config()["fold_steps"] == "auto"  # the loading backend decides


@pytest.mark.skipif(keras.backend.backend() != "torch",
                    reason="graph breaks are a torch.compile notion")
def test_time_folded_chunks_trace_into_one_torch_graph(rng):
    import torch

    x = keras.ops.convert_to_tensor(rng.normal(size=(2, 10, 3)).astype("float32"))
    layer = layers.TimeFolded(keras.layers.Dense(4), fold_steps=4)
    layer(x)  # builds outside the trace, as Model.fit does
    explained = torch._dynamo.explain(layer)(x)
    assert explained.graph_break_count == 0, explained.break_reasons
    assert explained.graph_count == 1


@pytest.mark.skipif(keras.backend.backend() != "torch",
                    reason="guards that fail and recompile are a torch.compile notion")
def test_time_folded_model_compiles_once_under_torch(rng):
    # Keras opens a layer's name scope at its first call, which changes the layer. A
    # pooling layer is built when made, so a symbolic model never called it: its first
    # real call, traced, changed it, and the next call failed the guard on it and
    # compiled the whole training step again.
    import torch
    from torch._dynamo.testing import CompileCounterWithBackend

    model = keras.Sequential([keras.Input((3, 6, 6, 2)),
                              layers.TimeFolded(keras.layers.AveragePooling2D(2)),
                              layers.TimeFolded(keras.layers.Flatten()),
                              layers.TimeFolded(keras.layers.Dense(4))])
    x = keras.ops.convert_to_tensor(rng.normal(size=(2, 3, 6, 6, 2)).astype("float32"))
    torch._dynamo.reset()
    counter = CompileCounterWithBackend("eager")
    compiled = torch.compile(model, backend=counter)
    for _ in range(3):
        compiled(x)
    assert counter.frame_count == 1


def test_time_folded_chunks_train_like_one_fold(rng):
    """Same weights and batch: one SGD step with folds of 2 steps and with one fold
    of all 9 gives the same kernels (gradients summed chunk by chunk)."""
    x = rng.normal(size=(4, 9, 6, 6, 3)).astype("float32")
    y = rng.normal(size=(4, 9, 10)).astype("float32")
    trained = []
    for fold_steps in (2, None):
        model = keras.Sequential([
            keras.Input((9, 6, 6, 3)),
            layers.TimeFolded(keras.layers.Conv2D(4, 3), fold_steps=fold_steps),
            layers.TimeFolded(keras.layers.Flatten(), fold_steps=fold_steps),
            layers.TimeFolded(keras.layers.Dense(10), fold_steps=fold_steps)])
        if trained:
            model.set_weights(trained[0][0])
        start = model.get_weights()
        model.compile(keras.optimizers.SGD(0.1), "mse")
        model.train_on_batch(x, y)
        trained.append((start, model.get_weights()))
    (start, chunked), (_, whole) = trained
    for before, a, b in zip(start, chunked, whole):
        assert not np.allclose(a, before)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_time_folded_dynamic_time_axis_folds_once(rng):
    inputs = keras.Input((None, 5))
    model = keras.Model(inputs, layers.TimeFolded(keras.layers.Dense(3), fold_steps=2)(inputs))
    x = rng.normal(size=(2, 7, 5)).astype("float32")
    assert model.predict(x, verbose=0).shape == (2, 7, 3)


def test_time_folded_passes_training_flag(rng):
    x = np.ones((2, 3, 100), "float32")
    drop = layers.TimeFolded(keras.layers.Dropout(0.5))
    np.testing.assert_array_equal(to_numpy(drop(x, training=False)), x)
    assert (to_numpy(drop(x, training=True)) == 0).any()


def test_neurons_accept_timedistributed_and_lambda(rng):
    x = rng.uniform(0, 1, size=(4, 6, 10)).astype("float32")
    inputs = keras.Input((6, 10))
    a = LIF()(keras.layers.TimeDistributed(keras.layers.Dense(7))(inputs))
    b = LIF()(keras.layers.Lambda(lambda t: t * 2.0)(inputs))
    model = keras.Model(inputs, [a, b])
    ya, yb = model.predict(x, verbose=0)
    assert ya.shape == (4, 6, 7)
    np.testing.assert_array_equal(yb, to_numpy(LIF()(x * 2.0)))


def test_reference_network_in_under_15_lines_trains_with_fit(rng):
    from keras_snnkd.layers import MeanOverTime, RepeatEncoder, TimeFolded as F
    from keras_snnkd.neurons import LIF
    model = keras.Sequential([
        keras.Input((28, 28, 1)), RepeatEncoder(2),
        F(keras.layers.Conv2D(32, 3, padding="same")), LIF(beta=0.9),
        F(keras.layers.AveragePooling2D(2)),
        F(keras.layers.Conv2D(64, 3, padding="same")), LIF(beta=0.9),
        F(keras.layers.AveragePooling2D(2)), F(keras.layers.Flatten()),
        F(keras.layers.Dense(128)), LIF(beta=0.9),
        F(keras.layers.Dense(10)), MeanOverTime(),
    ])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = rng.uniform(0, 1, size=(16, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 10, size=16)
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert model.predict(x, verbose=0).shape == (16, 10)


def test_infer_timesteps():
    model = keras.Sequential([keras.Input((4,)), layers.RepeatEncoder(3), LIF()])
    assert layers.infer_timesteps(model) == 3
    assert layers.infer_timesteps(keras.Sequential([keras.Input((5, 4)), LIF()])) == 5
    inputs = keras.Input((4,))
    mixed = keras.Model(inputs, [layers.RepeatEncoder(3)(inputs),
                                 layers.PoissonEncoder(5)(inputs)])
    with pytest.raises(ValueError, match="different `timesteps`"):
        layers.infer_timesteps(mixed)
    with pytest.raises(ValueError, match="no static time axis"):
        layers.infer_timesteps(keras.Sequential([keras.Input((None, 4)), LIF()]))


@pytest.mark.parametrize("layer", [
    layers.RepeatEncoder(3), layers.PoissonEncoder(4, gain=0.5, seed=2),
    layers.LatencyEncoder(5, threshold=0.1), layers.MeanOverTime(), layers.SpikeCount(),
    layers.LastMembrane(beta=0.7), layers.TimeFolded(keras.layers.Dense(3)),
], ids=lambda l: type(l).__name__)
def test_layer_configs_round_trip(layer):
    config = keras.saving.serialize_keras_object(layer)
    clone = keras.saving.deserialize_keras_object(copy.deepcopy(config))
    assert type(clone) is type(layer)
    assert keras.saving.serialize_keras_object(clone) == config
