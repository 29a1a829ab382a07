"""Ready-made networks: the reference SNN of the docs and benchmarks, its ANN twin,
and a small dense SNN student."""

import keras

from keras_snnkd.layers import MeanOverTime, RepeatEncoder, TimeFolded
from keras_snnkd.neurons import LIF

__all__ = ["reference_snn", "reference_ann", "dense_snn"]


def reference_snn(timesteps=4, input_shape=(28, 28, 1), num_classes=10, beta=0.9,
                  threshold=1.0, surrogate="arctan", name="reference_snn"):
    """The reference convolutional SNN (DESIGN.md), as a `keras.Sequential`.

    ``Conv3x3(32) -> LIF -> AvgPool2 -> Conv3x3(64) -> LIF -> AvgPool2 ->
    Flatten -> Dense(128) -> LIF -> Dense(10)``, logits = mean over time,
    direct encoding. The first convolution sees the same image at every step,
    so it runs once before `RepeatEncoder` (identical result, ``T`` times less
    work); the other stateless layers run folded over ``batch * T``.

    Args:
        timesteps: number of time steps ``T``.
        input_shape: image shape ``(H, W, C)``.
        num_classes: number of output logits.
        beta: LIF decay factor.
        threshold: LIF firing threshold (soft reset).
        surrogate: surrogate gradient of the LIF neurons.
        name: model name.

    Returns:
        An uncompiled `keras.Sequential` mapping images to logits.

    Example:
    >>> from keras_snnkd.models import reference_snn
    >>> reference_snn(timesteps=4).output_shape
    (None, 10)
    """
    lif = lambda: LIF(beta=beta, threshold=threshold, surrogate=surrogate)
    fold = TimeFolded
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Conv2D(32, 3, padding="same"),
            RepeatEncoder(timesteps),
            lif(),
            fold(keras.layers.AveragePooling2D(2)),
            fold(keras.layers.Conv2D(64, 3, padding="same")),
            lif(),
            fold(keras.layers.AveragePooling2D(2)),
            fold(keras.layers.Flatten()),
            fold(keras.layers.Dense(128)),
            lif(),
            fold(keras.layers.Dense(num_classes)),
            MeanOverTime(),
        ],
        name=name,
    )


def reference_ann(input_shape=(28, 28, 1), num_classes=10, name="reference_ann"):
    """The reference network as an ANN: ReLU where the SNN has LIF neurons.

    Used as a teacher and as the ``T x ANN`` speed limit in benchmarks.

    Example:
    >>> from keras_snnkd.models import reference_ann
    >>> reference_ann().output_shape
    (None, 10)
    """
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.AveragePooling2D(2),
            keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
            keras.layers.AveragePooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(num_classes),
        ],
        name=name,
    )


def dense_snn(timesteps=4, input_shape=(28, 28, 1), hidden=(128,), num_classes=10,
              beta=0.9, threshold=1.0, surrogate="arctan", name="dense_snn"):
    """A small fully connected SNN: ``Flatten -> [Dense -> LIF]* -> Dense``, mean logits.

    Args:
        timesteps: number of time steps ``T``.
        input_shape: input shape without batch.
        hidden: sizes of the spiking hidden layers.
        num_classes: number of output logits.
        beta: LIF decay factor.
        threshold: LIF firing threshold.
        surrogate: surrogate gradient of the LIF neurons.
        name: model name.

    Example:
    >>> from keras_snnkd.models import dense_snn
    >>> dense_snn(timesteps=2, input_shape=(8, 8, 1), hidden=(32,)).output_shape
    (None, 10)
    """
    if not hidden:
        raise ValueError("dense_snn: `hidden` needs at least one layer size, got ().")
    layers = [keras.Input(input_shape), keras.layers.Flatten(),
              keras.layers.Dense(hidden[0]), RepeatEncoder(timesteps),
              LIF(beta=beta, threshold=threshold, surrogate=surrogate)]
    for units in hidden[1:]:
        layers += [TimeFolded(keras.layers.Dense(units)),
                   LIF(beta=beta, threshold=threshold, surrogate=surrogate)]
    layers += [TimeFolded(keras.layers.Dense(num_classes)), MeanOverTime()]
    return keras.Sequential(layers, name=name)
