"""`SpikeCount`: the count readout, summing over the time axis."""

import keras
from keras import ops

from keras_snnkd.validation import check_time_major_shape


@keras.saving.register_keras_serializable(package="keras_snnkd")
class SpikeCount(keras.layers.Layer):
    """Sums ``(batch, time, ...)`` over time: ``y = sum_t s_t``.

    Applied to output spikes it gives spike counts, the quantity spike-based
    distillation and rate-coded classification work with.

    Returns:
        ``(batch, ...)``.

    Example:
    >>> import numpy as np, keras
    >>> from keras_snnkd.layers import SpikeCount
    >>> keras.ops.convert_to_numpy(SpikeCount()(np.array([[[1.0], [0.0], [1.0], [1.0]]], "float32"))).tolist()
    [[3.0]]
    """

    def compute_output_shape(self, input_shape):
        check_time_major_shape(type(self).__name__, input_shape)
        return (input_shape[0], *input_shape[2:])

    def call(self, inputs):
        check_time_major_shape(type(self).__name__, inputs.shape)
        return ops.sum(inputs, axis=1)
