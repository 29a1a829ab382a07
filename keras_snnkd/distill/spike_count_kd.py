"""`SpikeCountKD`: soft targets from the teacher's output spike counts."""

import keras

from keras_snnkd.distill.spike_loss import SpikeLoss
from keras_snnkd.distill.tempered_kl import tempered_kl
from keras_snnkd.validation import check_number


@keras.saving.register_keras_serializable(package="keras_snnkd")
class SpikeCountKD(SpikeLoss):
    """Spike-count distillation ("Distilling Spikes", Kushawaha et al., 2020).

    The spike counts of the output neurons act as logits. With firing rates
    ``r`` of teacher and student and the student's number of steps ``T_s``,
    counts are put on the student's time base, ``c = r * T_s`` (the student's
    own counts; for a teacher running another ``T`` its counts rescaled), and

    ``L = tau^2 * 1/B sum_b KL(softmax(c_t / tau) || softmax(c_s / tau))``

    Args:
        temperature: ``tau > 0``.
        teacher_layer_name, student_layer_name: the output spiking layers
            (default: the last spiking layer of each model).
        **kwargs: `keras.layers.Layer` arguments.

    Example:
    >>> import numpy as np
    >>> from keras_snnkd.distill import SpikeCountKD
    >>> teacher = np.zeros((1, 8, 3), "float32"); teacher[:, :, 0] = 1  # class 0 fires every step
    >>> student = np.zeros((1, 4, 3), "float32"); student[:, :, 0] = 1
    >>> float(SpikeCountKD(temperature=2.0).compute_loss(teacher, student))
    0.0
    """

    def __init__(self, temperature=2.0, **kwargs):
        super().__init__(**kwargs)
        self.temperature = check_number(type(self).__name__, "temperature", temperature, low=0.0)

    def rate_loss(self, teacher_rates, student_rates, student_steps):
        return tempered_kl(teacher_rates * student_steps, student_rates * student_steps,
                           self.temperature)

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}
