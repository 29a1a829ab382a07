"""`MeanOverTime`: the rate readout, averaging over the time axis."""

import keras
from keras import ops

from keras_snnkd.validation import check_time_major_shape


@keras.saving.register_keras_serializable(package="keras_snnkd")
class MeanOverTime(keras.layers.Layer):
    """Averages ``(batch, time, ...)`` over time: ``y = 1/T * sum_t x_t``.

    The usual readout for classification: applied to the logits of the last
    (non-spiking) layer it gives time-averaged logits; applied to spikes it
    gives firing rates.

    Returns:
        ``(batch, ...)``.

    Example:
    >>> import numpy as np, keras
    >>> from keras_snnkd.layers import MeanOverTime
    >>> keras.ops.convert_to_numpy(MeanOverTime()(np.array([[[1.0], [0.0], [1.0], [0.0]]], "float32"))).tolist()
    [[0.5]]
    """

    def compute_output_shape(self, input_shape):
        check_time_major_shape(type(self).__name__, input_shape)
        return (input_shape[0], *input_shape[2:])

    def call(self, inputs):
        check_time_major_shape(type(self).__name__, inputs.shape)
        return ops.mean(inputs, axis=1)
