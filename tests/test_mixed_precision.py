"""Training under Keras's ``mixed_bfloat16`` policy: bfloat16 compute, float32 weights."""

import keras
import numpy as np
import pytest

from keras_snnkd import datasets, models
from keras_snnkd.distill import Distiller, FeatureKD, ResponseKD
from keras_snnkd import layers
from keras_snnkd.neurons import IF, LIF, ParametricLIF

from conftest import to_numpy


@pytest.fixture
def policy():
    """Sets Keras's global dtype policy for the test; float32 again after it."""
    yield keras.mixed_precision.set_dtype_policy
    keras.mixed_precision.set_dtype_policy("float32")


def dtype(x):
    return keras.backend.standardize_dtype(x.dtype)


def train(set_policy, name, steps=4):
    """The reference network under policy ``name``, from seed 0's weights, after ``steps``
    Adam steps on 32 MNIST images: the model, its losses and each weight's change."""
    keras.utils.set_random_seed(0)
    set_policy(name)
    (x, y), _ = datasets.load_mnist_subset()
    model = models.reference_snn(timesteps=4)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=False)
    before = [to_numpy(w).copy() for w in model.trainable_weights]
    losses = [float(model.train_on_batch(x[:32], y[:32])) for _ in range(steps)]
    changes = [to_numpy(w) - old for old, w in zip(before, model.trainable_weights)]
    return model, losses, changes


def test_bfloat16_training_follows_float32_training(policy):
    model, losses, changes = train(policy, "mixed_bfloat16")
    spiking = [layer for layer in model.layers if "lif" in layer.name]
    assert spiking and all(layer.compute_dtype == "bfloat16" for layer in spiking)
    assert all(dtype(w) == "float32" for w in model.trainable_weights)
    assert all(dtype(v) == "float32" for v in model.optimizer.variables if "iteration" not in v.path)
    _, reference_losses, reference_changes = train(policy, "float32")
    np.testing.assert_allclose(losses, reference_losses, rtol=1e-3)
    assert losses[-1] < losses[0]
    # Weights behind a layer that does not fire at initialization get no gradient in
    # either precision; every other weight moves the same way (Adam's steps, ~1e-3).
    for change, reference in zip(changes, reference_changes):
        if not reference.any():
            assert not change.any()
        else:
            assert np.corrcoef(change.ravel(), reference.ravel())[0, 1] > 0.9


@pytest.mark.parametrize("policy_name, state", [("mixed_bfloat16", "float32"),
                                                ("mixed_float16", "float32"),
                                                ("float32", "float32"), ("float64", "float64")])
def test_the_membrane_is_float32_under_a_16_bit_compute_dtype(policy_name, state):
    assert LIF(dtype=policy_name).state_dtype == state


@pytest.mark.parametrize("unroll", [True, False])
def test_bfloat16_layers_fire_the_float32_spikes(rng, unroll):
    # The same (bfloat16-representable) currents through a float32 and a bfloat16
    # layer: the membrane is float32 in both, so the spikes are the same, not just close.
    currents = keras.ops.cast(rng.normal(0.3, 0.6, size=(64, 8, 128)), "bfloat16")
    reference, reference_membrane = LIF(return_membrane=True, unroll=unroll)(
        keras.ops.cast(currents, "float32"))
    spikes, membrane = LIF(return_membrane=True, unroll=unroll, dtype="mixed_bfloat16")(currents)
    assert dtype(spikes) == dtype(membrane) == "bfloat16"
    assert 0.2 < float(keras.ops.mean(reference)) < 0.8
    np.testing.assert_array_equal(to_numpy(keras.ops.cast(spikes, "float32")),
                                  to_numpy(reference))
    np.testing.assert_array_equal(to_numpy(keras.ops.cast(membrane, "float32")),
                                  to_numpy(keras.ops.cast(keras.ops.cast(reference_membrane,
                                                                          "bfloat16"), "float32")))


ENCODERS = {"repeat": lambda: layers.RepeatEncoder(8), "poisson": lambda: layers.PoissonEncoder(8),
            "latency": lambda: layers.LatencyEncoder(8)}
ON_SPIKES = {"IF": IF, "LIF": LIF, "ParametricLIF": ParametricLIF,
             "trainable_threshold": lambda: LIF(trainable_threshold=True),
             "scanned": lambda: LIF(unroll=False), "SpikeCount": layers.SpikeCount,
             "MeanOverTime": layers.MeanOverTime, "LastMembrane": layers.LastMembrane}


@pytest.mark.parametrize("encoder", ENCODERS)
@pytest.mark.parametrize("layer", ON_SPIKES)
def test_every_layer_computes_in_bfloat16_under_the_policy(policy, rng, encoder, layer):
    policy("mixed_bfloat16")
    encoded = ENCODERS[encoder]()(rng.uniform(0, 1, size=(4, 6, 6, 1)).astype("float32"))
    assert dtype(encoded) == "bfloat16"
    if encoder != "repeat":  # direct encoding repeats the values themselves
        assert set(np.unique(to_numpy(keras.ops.cast(encoded, "float32")))) == {0.0, 1.0}
    out = ON_SPIKES[layer]()(encoded)
    assert dtype(out) == "bfloat16"
    assert np.all(np.isfinite(to_numpy(keras.ops.cast(out, "float32"))))

def distill(set_policy, name):
    """One Adam step of the reference student distilled from the reference ANN (response
    and feature KD with an adapter), from seed 0's weights: the distiller and its logs."""
    keras.utils.set_random_seed(0)
    set_policy(name)
    (x, y), _ = datasets.load_mnist_subset()
    x, y = x[::125], y[::125]  # 32 images of every class
    teacher, student = models.reference_ann(), models.reference_snn(timesteps=4)
    distiller = Distiller(
        teacher, student,
        losses=[ResponseKD(temperature=2.0),
                FeatureKD(teacher.layers[2].name, student.layers[5].name, adapter=True)])
    distiller.compile(keras.optimizers.Adam(1e-3),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      jit_compile=False)
    logs = distiller.train_on_batch(x, y, return_dict=True)
    return distiller, {key: float(value) for key, value in logs.items()}


def test_distillation_terms_compute_in_float32_under_mixed_bfloat16(policy):
    distiller, logs = distill(policy, "mixed_bfloat16")
    response, feature = distiller.distillation_losses
    assert response.compute_dtype == feature.compute_dtype == "float32"
    assert feature.adapter.compute_dtype == "float32"
    assert distiller.student.layers[-1].compute_dtype == "bfloat16"
    _, reference = distill(policy, "float32")
    assert set(logs) == set(reference) >= {"loss", "student_loss", "response_kd", "feature_kd"}
    for key in reference:
        np.testing.assert_allclose(logs[key], reference[key], rtol=0.02, err_msg=key)
