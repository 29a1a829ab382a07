"""`LastMembrane`: a non-spiking leaky integrator readout."""

import keras
from keras import ops

from keras_snnkd import backend
from keras_snnkd.neurons.dynamics import time_steps
from keras_snnkd.validation import check_number, check_time_major_shape


@keras.saving.register_keras_serializable(package="keras_snnkd")
class LastMembrane(keras.layers.Layer):
    """Integrates ``(batch, time, ...)`` without firing and returns the final membrane.

    ``v_t = beta * v_{t-1} + x_t`` from ``v_0 = 0``; the output is ``v_T``. The
    readout of snnTorch tutorials that classify by the output membrane;
    ``beta=1`` gives the plain sum over time.

    Args:
        beta: decay in [0, 1].

    Returns:
        ``(batch, ...)``.

    Example:
    >>> import numpy as np, keras
    >>> from keras_snnkd.layers import LastMembrane
    >>> keras.ops.convert_to_numpy(LastMembrane(beta=0.5)(np.ones((1, 3, 1), "float32"))).tolist()
    [[1.75]]
    """

    def __init__(self, beta=0.9, **kwargs):
        super().__init__(**kwargs)
        self.beta = check_number(type(self).__name__, "beta", beta, low=0.0,
                                 low_inclusive=True, high=1.0)

    def compute_output_shape(self, input_shape):
        check_time_major_shape(type(self).__name__, input_shape)
        return (input_shape[0], *input_shape[2:])

    def call(self, inputs):
        check_time_major_shape(type(self).__name__, inputs.shape)
        time = inputs.shape[1]
        if time is None:
            xs = ops.moveaxis(inputs, 1, 0)
            last, _ = backend.scan(lambda v, x: (self.beta * v + x, None), ops.zeros_like(xs[0]),
                                   xs)
            return last
        first, *rest = time_steps(inputs, time)
        v = first
        for x in rest:
            v = self.beta * v + x
        return v

    def get_config(self):
        return {**super().get_config(), "beta": self.beta}
