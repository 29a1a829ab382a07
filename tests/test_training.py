"""Training on real data with plain `fit`, on the current backend."""

import keras
import pytest

from keras_snnkd import datasets, models, monitor


def compile_for_classification(model, steps, lr=2e-3):
    model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(lr, steps)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )


def test_dense_snn_learns_digits():
    (x_train, y_train), (x_test, y_test) = datasets.load_digits()
    model = models.dense_snn(timesteps=4, input_shape=(8, 8, 1), hidden=(64,))
    compile_for_classification(model, steps=8 * 23, lr=5e-3)
    model.fit(x_train, y_train, batch_size=64, epochs=8, verbose=0)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy > 0.9
    rates = monitor.firing_rates(model, x_test)
    assert len(rates) == 1 and 0.0 < next(iter(rates.values())) < 1.0


@pytest.mark.slow
def test_reference_network_reaches_95_percent_on_mnist_subset_at_T4():
    """DESIGN.md's reference network, T=4, 5 epochs on the 4,000 training images."""
    (x_train, y_train), (x_test, y_test) = datasets.load_mnist_subset()
    model = models.reference_snn(timesteps=4)
    compile_for_classification(model, steps=5 * 63)
    model.fit(x_train, y_train, batch_size=64, epochs=5, verbose=0)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"reference SNN T=4 test accuracy on {keras.backend.backend()}: {accuracy:.4f}")
    assert accuracy >= 0.95
