"""`RepeatEncoder`: direct encoding by repeating the input at every time step."""

import keras
from keras import ops

from keras_snnkd.validation import check_positive_int


@keras.saving.register_keras_serializable(package="keras_snnkd")
class RepeatEncoder(keras.layers.Layer):
    """Direct encoding: feeds the same analog input at each of ``T`` steps.

    Maps ``(batch, ...features)`` to ``(batch, timesteps, ...features)``. The
    first layer after it then acts as the encoder, as in direct-input SNNs
    (Wu et al., 2019; Rathi & Roy, 2020).

    Args:
        timesteps: number of time steps ``T`` (int >= 1).

    Returns:
        The input repeated along a new axis 1.

    Example:
    >>> import numpy as np
    >>> from keras_snnkd.layers import RepeatEncoder
    >>> tuple(RepeatEncoder(3)(np.zeros((2, 5), "float32")).shape)
    (2, 3, 5)
    """

    def __init__(self, timesteps, **kwargs):
        super().__init__(**kwargs)
        self.timesteps = check_positive_int(type(self).__name__, "timesteps", timesteps)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.timesteps, *input_shape[1:])

    def call(self, inputs):
        return ops.repeat(ops.expand_dims(inputs, 1), self.timesteps, axis=1)

    def get_config(self):
        return {**super().get_config(), "timesteps": self.timesteps}
