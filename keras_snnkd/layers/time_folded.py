"""`TimeFolded`: runs a stateless layer once over all time steps."""

import inspect

import keras
from keras import ops

from keras_snnkd.validation import check_time_major_shape


@keras.saving.register_keras_serializable(package="keras_snnkd")
class TimeFolded(keras.layers.Wrapper):
    """Applies a stateless layer to ``(batch, time, ...)`` by folding time into batch.

    The input is reshaped to ``(batch * time, ...)``, the wrapped layer runs
    once on it (one large Conv/Dense/Pool instead of ``T`` small ones), and
    the result is reshaped back to ``(batch, time, ...)``. Use it for layers
    with no state across time: Dense, Conv, Pooling, Flatten, Dropout and
    BatchNormalization (whose statistics are then taken over batch and time,
    like SpikingJelly's ``SeqToANNContainer``).

    Args:
        layer: a `keras.layers.Layer` instance.

    Returns:
        ``(batch, time, ...layer output features)``.

    Example:
    >>> import numpy as np, keras
    >>> from keras_snnkd.layers import TimeFolded
    >>> tuple(TimeFolded(keras.layers.Dense(3))(np.zeros((2, 4, 5), "float32")).shape)
    (2, 4, 3)
    """

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, keras.layers.Layer):
            raise TypeError(
                "TimeFolded: `layer` must be a keras.layers.Layer instance, got "
                f"{layer!r} of type {type(layer).__name__}."
            )
        super().__init__(layer, **kwargs)
        self._pass_training = "training" in inspect.signature(layer.call).parameters

    def _folded_shape(self, input_shape):
        check_time_major_shape(type(self).__name__, input_shape)
        if 0 in input_shape[2:]:  # folding reshapes to (-1, ...features): ambiguous then
            raise ValueError(
                f"{type(self).__name__}: the feature axes of `inputs` must be non-empty; "
                f"got shape {tuple(input_shape)}."
            )
        batch, time = input_shape[0], input_shape[1]
        folded = None if batch is None or time is None else batch * time
        return (folded, *input_shape[2:])

    def build(self, input_shape):
        folded = self._folded_shape(input_shape)
        if not self.layer.built:
            self.layer.build(folded)
        self.built = True

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape(self._folded_shape(input_shape))
        return (input_shape[0], input_shape[1], *inner[1:])

    def call(self, inputs, training=None):
        time = inputs.shape[1] if inputs.shape[1] is not None else ops.shape(inputs)[1]
        folded = ops.reshape(inputs, (-1, *inputs.shape[2:]))
        kwargs = {"training": training} if self._pass_training else {}
        outputs = self.layer(folded, **kwargs)
        return ops.reshape(outputs, (-1, time, *outputs.shape[1:]))
