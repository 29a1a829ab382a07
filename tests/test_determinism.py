"""Determinism: the same seed on the same backend gives bitwise the same trained
weights (CPU; shuffling, Poisson encoding and dropout all drawn from the seed)."""

import keras
import numpy as np

from keras_snnkd import layers, models, neurons
from keras_snnkd.distill import Distiller, ResponseKD


def train(seed):
    keras.utils.set_random_seed(seed)
    teacher = models.reference_ann(input_shape=(8, 8, 1))
    student = keras.Sequential([
        keras.Input((8, 8, 1)), keras.layers.Flatten(), layers.PoissonEncoder(3),
        layers.TimeFolded(keras.layers.Dense(16)), neurons.LIF(beta=0.9),
        layers.TimeFolded(keras.layers.Dropout(0.2)),
        layers.TimeFolded(keras.layers.Dense(10)), layers.MeanOverTime()])
    distiller = Distiller(teacher, student, [ResponseKD(2.0)], student_loss_weight=0.5)
    distiller.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    x, y = rng.random((48, 8, 8, 1), "float32"), np.arange(48) % 10
    distiller.fit(x, y, batch_size=16, epochs=2, shuffle=True, verbose=0)
    return student.get_weights()


def test_same_seed_gives_bitwise_identical_weights():
    first, second, other = train(3), train(3), train(4)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(first, other))
