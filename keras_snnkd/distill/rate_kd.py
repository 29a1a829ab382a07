"""`RateKD`: mean squared error between teacher and student firing rates."""

import keras
from keras import ops

from keras_snnkd.distill.spike_loss import SpikeLoss


@keras.saving.register_keras_serializable(package="keras_snnkd")
class RateKD(SpikeLoss):
    """Firing-rate matching between spiking layers of teacher and student.

    ``L = mean((r_t - r_s)^2)`` over batch and neurons, with rates
    ``r = 1/T sum_t s_t`` in [0, 1] computed with each model's own ``T``.

    Args:
        teacher_layer_name, student_layer_name: the spiking layers (default:
            the last spiking layer of each model).
        **kwargs: `keras.layers.Layer` arguments.

    Example:
    >>> import numpy as np
    >>> from keras_snnkd.distill import RateKD
    >>> teacher = np.ones((1, 8, 2), "float32")          # rates 1, 1
    >>> student = np.zeros((1, 4, 2), "float32"); student[:, :2] = 1  # rates 0.5, 0.5
    >>> float(RateKD().compute_loss(teacher, student))
    0.25
    """

    def rate_loss(self, teacher_rates, student_rates, student_steps):
        return ops.mean(ops.square(teacher_rates - student_rates))
