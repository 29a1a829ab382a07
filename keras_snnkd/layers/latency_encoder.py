"""`LatencyEncoder`: time-to-first-spike coding, one spike per feature."""

import keras
from keras import ops

from keras_snnkd.validation import check_float_dtype, check_number, check_positive_int


@keras.saving.register_keras_serializable(package="keras_snnkd")
class LatencyEncoder(keras.layers.Layer):
    """Latency (time-to-first-spike) encoding: stronger inputs fire earlier.

    A feature ``x`` in [0, 1] fires exactly once, at step
    ``t = round((1 - x) * (T - 1))``: ``x = 1`` fires at step 0 and a value just
    above ``threshold`` fires last. Features ``x <= threshold`` never fire.

    Args:
        timesteps: number of time steps ``T`` (int >= 1).
        threshold: inputs at or below it stay silent (default 0).

    Returns:
        0/1 spikes ``(batch, timesteps, ...features)`` in the compute dtype.

    Example:
    >>> import numpy as np, keras
    >>> from keras_snnkd.layers import LatencyEncoder
    >>> x = np.array([[1.0, 0.5, 0.0]], "float32")
    >>> keras.ops.convert_to_numpy(LatencyEncoder(3)(x))[0].T.tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    """

    def __init__(self, timesteps, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.timesteps = check_positive_int(owner, "timesteps", timesteps)
        self.threshold = check_number(owner, "threshold", threshold, low=0.0,
                                      low_inclusive=True, high=1.0, high_inclusive=False)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.timesteps, *input_shape[1:])

    def call(self, inputs):
        check_float_dtype(type(self).__name__, inputs.dtype)
        fire_step = ops.round((1.0 - inputs) * (self.timesteps - 1))
        steps = ops.arange(self.timesteps, dtype=inputs.dtype)
        steps = ops.reshape(steps, (1, self.timesteps) + (1,) * (len(inputs.shape) - 1))
        spikes = ops.logical_and(
            ops.equal(ops.expand_dims(fire_step, 1), steps),
            ops.expand_dims(ops.greater(inputs, self.threshold), 1),
        )
        return ops.cast(spikes, inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "timesteps": self.timesteps,
                "threshold": self.threshold}
