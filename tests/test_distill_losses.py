"""Distillation loss terms: values against numpy, gradients, serialization, interop."""

import keras
import numpy as np
import pytest

from keras_snnkd import models
from keras_snnkd.backend import value_and_grad
from keras_snnkd.distill import (
    AttentionTransfer,
    Distiller,
    FeatureKD,
    RateKD,
    ResponseKD,
    SpikeCountKD,
)

from conftest import to_numpy


def np_log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def np_tempered_kl(teacher, student, tau):
    log_p, log_q = np_log_softmax(teacher / tau), np_log_softmax(student / tau)
    return tau ** 2 * np.mean(np.sum(np.exp(log_p) * (log_p - log_q), axis=-1))


def spikes(rng, shape, rate=0.4):
    return (rng.random(shape) < rate).astype("float32")


@pytest.mark.parametrize("tau", [1.0, 4.0])
def test_response_kd_is_tempered_kl(rng, tau):
    teacher = rng.normal(size=(6, 10)).astype("float32") * 3
    student = rng.normal(size=(6, 10)).astype("float32")
    value = float(ResponseKD(temperature=tau).compute_loss(teacher, student))
    np.testing.assert_allclose(value, np_tempered_kl(teacher, student, tau), rtol=1e-5)
    same = float(ResponseKD(temperature=tau).compute_loss(teacher, teacher))
    assert same == pytest.approx(0, abs=1e-6)


def test_response_kd_gradient_is_soft_target_difference(rng):
    """d/dz_s tau^2 KL(p || softmax(z_s/tau)) = tau (q - p) / B (Hinton's eq. 2)."""
    tau = 3.0
    teacher = rng.normal(size=(4, 5)).astype("float32")
    student = rng.normal(size=(4, 5)).astype("float32")
    loss = ResponseKD(temperature=tau)
    _, (grad,) = value_and_grad(lambda s: loss.compute_loss(teacher, s), [student])
    softmax = lambda z: np.exp(np_log_softmax(z))
    expected = tau * (softmax(student / tau) - softmax(teacher / tau)) / len(student)
    np.testing.assert_allclose(grad, expected, rtol=1e-4, atol=1e-7)


def test_standardized_response_kd_ignores_logit_scale_and_shift(rng):
    teacher = rng.normal(size=(4, 10)).astype("float32") * 8
    student = rng.normal(size=(4, 10)).astype("float32")
    loss = ResponseKD(temperature=2.0, standardize=True)
    value = float(loss.compute_loss(teacher, student))
    z = lambda v: (v - v.mean(-1, keepdims=True)) / np.sqrt(v.var(-1, keepdims=True) + 1e-6)
    np.testing.assert_allclose(value, np_tempered_kl(z(teacher), z(student), 2.0), rtol=1e-4)
    assert float(loss.compute_loss(teacher, 5 * student + 3)) == pytest.approx(value, rel=1e-4)
    assert float(loss.compute_loss(teacher, teacher / 8)) == pytest.approx(0, abs=1e-6)
    # a silent student (constant logits) still gets a finite gradient
    _, (grad,) = value_and_grad(lambda s: loss.compute_loss(teacher, s),
                                [np.zeros((4, 10), "float32")])
    assert np.isfinite(grad).all()


def test_response_kd_reads_out_per_step_student_logits(rng):
    teacher = rng.normal(size=(3, 4)).astype("float32")
    per_step = rng.normal(size=(3, 5, 4)).astype("float32")
    value = float(ResponseKD(temperature=2.0).compute_loss(teacher, per_step))
    np.testing.assert_allclose(value, np_tempered_kl(teacher, per_step.mean(1), 2.0), rtol=1e-5)


def test_spike_count_kd_puts_counts_on_the_student_time_base(rng):
    """Teacher T=8, student T=4: teacher counts are rescaled to 4 steps."""
    teacher, student = spikes(rng, (5, 8, 10)), spikes(rng, (5, 4, 10))
    value = float(SpikeCountKD(temperature=2.0).compute_loss(teacher, student))
    expected = np_tempered_kl(teacher.mean(1) * 4, student.sum(1), 2.0)
    np.testing.assert_allclose(value, expected, rtol=1e-5)
    # same firing rates at different T: nothing to distil
    doubled = np.repeat(student, 2, axis=1)
    assert float(SpikeCountKD().compute_loss(doubled, student)) == pytest.approx(0, abs=1e-6)


def test_rate_kd_is_rate_mse(rng):
    teacher, student = spikes(rng, (5, 6, 7)), spikes(rng, (5, 3, 7))
    value = float(RateKD().compute_loss(teacher, student))
    np.testing.assert_allclose(value, np.mean((teacher.mean(1) - student.mean(1)) ** 2), rtol=1e-5)


def test_spike_losses_read_spikes_of_a_membrane_pair(rng):
    teacher, student = spikes(rng, (2, 4, 3)), spikes(rng, (2, 4, 3))
    membrane = rng.normal(size=(2, 4, 3)).astype("float32")
    assert float(RateKD().compute_loss((teacher, membrane), (student, membrane))) == pytest.approx(
        float(RateKD().compute_loss(teacher, student)))


def test_feature_kd_matches_time_averaged_rates(rng):
    loss = FeatureKD("t", "s")
    loss.build((None, 4, 4, 3), (None, 5, 4, 4, 3))
    assert loss.adapter is None  # same channels, adapter="auto"
    teacher = rng.random((2, 4, 4, 3)).astype("float32")
    student = spikes(rng, (2, 5, 4, 4, 3))
    value = float(loss.compute_loss(teacher, student))
    np.testing.assert_allclose(value, np.mean((student.mean(1) - teacher) ** 2), rtol=1e-5)


def test_feature_kd_adapter_maps_student_channels_to_teacher_channels(rng):
    loss = FeatureKD("t", "s")
    loss.build((None, 4, 4, 6), (None, 2, 4, 4, 3))
    assert tuple(loss.adapter.kernel.shape) == (3, 6)
    teacher = rng.random((2, 4, 4, 6)).astype("float32")
    student = spikes(rng, (2, 2, 4, 4, 3))
    kernel, bias = (to_numpy(w) for w in loss.adapter.weights)
    expected = np.mean((student.mean(1) @ kernel + bias - teacher) ** 2)
    np.testing.assert_allclose(to_numpy(loss.compute_loss(teacher, student)), expected, rtol=1e-5)
    forced = FeatureKD("t", "s", adapter=True)
    forced.build((None, 8), (None, 2, 8))
    assert tuple(forced.adapter.kernel.shape) == (8, 8)


def test_feature_kd_normalize_teacher_scales_each_teacher_channel_to_unit_rms(rng):
    loss = FeatureKD("t", "s", adapter=True, normalize_teacher=True)
    loss.build((None, 4, 4, 6), (None, 2, 4, 4, 3))
    teacher = rng.random((2, 4, 4, 6)).astype("float32") * np.array([20, 5, 1, .5, .1, 0],
                                                                    "float32")
    student = spikes(rng, (2, 2, 4, 4, 3))
    kernel, bias = (to_numpy(w) for w in loss.adapter.weights)
    rms = np.sqrt(np.mean(teacher ** 2, axis=(0, 1, 2)) + 1e-6)
    expected = np.mean((student.mean(1) @ kernel + bias - teacher / rms) ** 2)
    np.testing.assert_allclose(float(loss.compute_loss(teacher, student)), expected, rtol=1e-5)
    # the loss is blind to the teacher's per-channel scale, and a dead channel stays 0
    rescaled = teacher * np.array([0.1, 3, 7, 2, 2, 1], "float32")
    np.testing.assert_allclose(float(loss.compute_loss(rescaled, student)), expected, rtol=1e-3)
    with pytest.raises(TypeError, match="normalize_teacher"):
        FeatureKD("t", "s", normalize_teacher="yes")


def test_feature_kd_normalized_gradient_is_finite_for_a_silent_student(rng):
    loss = FeatureKD("t", "s", normalize_teacher=True)
    loss.build((None, 4, 4, 3), (None, 2, 4, 4, 3))
    teacher = rng.random((2, 4, 4, 3)).astype("float32") * np.array([9, 1, 0], "float32")
    _, (grad,) = value_and_grad(lambda s: loss.compute_loss(teacher, s),
                                [np.zeros((2, 2, 4, 4, 3), "float32")])
    assert np.isfinite(grad).all() and np.abs(grad).max() < 1.0


def test_feature_kd_membrane_signal_and_snn_teacher(rng):
    """signal='membrane' reads the second output; an SNN teacher (same rank) is
    averaged over its own T."""
    loss = FeatureKD("t", "s", signal="membrane")
    teacher_spikes = spikes(rng, (2, 6, 5))
    student = (spikes(rng, (2, 3, 5)), rng.normal(size=(2, 3, 5)).astype("float32"))
    loss.build((None, 6, 5), ((None, 3, 5), (None, 3, 5)))
    value = float(loss.compute_loss(teacher_spikes, student))
    np.testing.assert_allclose(value, np.mean((student[1].mean(1) - teacher_spikes.mean(1)) ** 2),
                               rtol=1e-5)


def test_attention_transfer_against_numpy(rng):
    loss = AttentionTransfer("t", "s")
    loss.build((None, 4, 4, 8), (None, 3, 4, 4, 2))
    teacher = rng.normal(size=(2, 4, 4, 8)).astype("float32")
    student = spikes(rng, (2, 3, 4, 4, 2))

    def attention(f):
        a = (np.abs(f) ** 2).mean(-1).reshape(len(f), -1)
        return a / np.linalg.norm(a, axis=-1, keepdims=True)

    expected = np.mean((attention(teacher) - attention(student.mean(1))) ** 2)
    np.testing.assert_allclose(float(loss.compute_loss(teacher, student)), expected, rtol=1e-5)


def test_attention_transfer_gradient_is_finite_for_a_silent_student(rng):
    loss = AttentionTransfer("t", "s")
    loss.build((None, 4, 4, 3), (None, 2, 4, 4, 3))
    teacher = rng.random((2, 4, 4, 3)).astype("float32")
    _, (grad,) = value_and_grad(lambda s: loss.compute_loss(teacher, s),
                                [np.zeros((2, 2, 4, 4, 3), "float32")])
    assert np.isfinite(grad).all()


@pytest.mark.parametrize("loss", [
    ResponseKD(temperature=3.0, standardize=True),
    SpikeCountKD(temperature=1.5, teacher_layer_name="a", student_layer_name="b"),
    RateKD(teacher_layer_name="a"),
    FeatureKD("conv", "lif", signal="membrane", adapter=True),
    FeatureKD("conv", "lif", normalize_teacher=True),
    AttentionTransfer("conv", "lif", p=1.0),
], ids=lambda loss: type(loss).__name__)
def test_losses_round_trip_through_keras_serialization(loss):
    config = keras.saving.serialize_keras_object(loss)
    clone = keras.saving.deserialize_keras_object(config)
    assert type(clone) is type(loss)
    assert clone.get_config() == loss.get_config()


def tiny_pair(teacher_classes=10):
    teacher = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                keras.layers.Dense(16, activation="relu"),
                                keras.layers.Dense(teacher_classes)])
    student = models.dense_snn(timesteps=2, input_shape=(8, 8, 1), hidden=(8,))
    return teacher, student


def test_keras_distiller_accepts_response_kd(rng):
    teacher, student = tiny_pair()
    distiller = keras.distillation.Distiller(teacher, student, ResponseKD(temperature=2.0),
                                             student_loss_weight=0.5)
    distiller.compile("adam", loss="sparse_categorical_crossentropy")
    x, y = rng.random((16, 8, 8, 1)).astype("float32"), np.arange(16) % 10
    history = distiller.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_keras_distillation_losses_work_in_distiller(rng):
    """keras.distillation's own losses, including a feature loss on named layers."""
    teacher, student = tiny_pair()
    dense_t, dense_s = teacher.layers[-1].name, student.layers[-2].name
    distiller = Distiller(teacher, student, [
        keras.distillation.LogitsDistillation(temperature=2.0),
        keras.distillation.FeatureDistillation("mse", teacher_layer_name=dense_t,
                                               student_layer_name=dense_s),
    ])
    distiller.compile("adam")
    x = rng.random((16, 8, 8, 1)).astype("float32")
    history = distiller.fit(x, batch_size=8, epochs=1, verbose=0)
    assert sorted(history.history) == ["feature_distillation", "logits_distillation", "loss"]
    # the student's per-step logits (batch, T, 10) were averaged over time to meet (batch, 10)
    teacher_logits = to_numpy(teacher(x))
    student_logits = to_numpy(student(x))
    expected = np.mean((student_logits - teacher_logits) ** 2)
    assert distiller.evaluate(x, verbose=0, return_dict=True)["feature_distillation"] == (
        pytest.approx(expected, rel=1e-4))
