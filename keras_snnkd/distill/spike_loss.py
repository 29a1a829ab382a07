"""`SpikeLoss`: the base of losses on the spike trains of teacher and student."""

import keras
from keras import ops

from keras_snnkd.distill.kd_loss import KDLoss
from keras_snnkd.distill.model_outputs import is_pair, last_spiking_layer_name, time_mean


def _spikes(value):
    """The spikes of a neuron output (tensors or shapes): the first of ``(spikes, membrane)``."""
    return value[0] if is_pair(value) else value


@keras.saving.register_keras_serializable(package="keras_snnkd")
class SpikeLoss(KDLoss):
    """Base of the SNN -> SNN losses that compare spike trains by their rates.

    Both sides are spike trains ``(batch, T, ...features)`` of a spiking layer,
    by default the last `keras_snnkd.neurons.SpikingNeuron` of each model (the
    output neurons). Each is reduced to firing rates ``r = 1/T sum_t s_t``,
    so the teacher and the student may run different numbers of steps ``T``;
    the features must match. Subclasses implement ``rate_loss(r_t, r_s, T_s)``
    (``T_s``: the student's number of steps).

    Args:
        teacher_layer_name, student_layer_name: the spiking layers to read
            (default None: the last spiking layer of each model).
        **kwargs: `keras.layers.Layer` arguments.
    """

    def resolve_layer_names(self, teacher, student):
        owner = type(self).__name__
        if self.teacher_layer_name is None:
            self.teacher_layer_name = last_spiking_layer_name(owner, "teacher", teacher)
        if self.student_layer_name is None:
            self.student_layer_name = last_spiking_layer_name(owner, "student", student)

    def build(self, teacher_shape, student_shape):
        owner = type(self).__name__
        shapes = {}
        time_major = dict(zip(("teacher", "student"), self.time_major or (None, None)))
        for role, shape in (("teacher", teacher_shape), ("student", student_shape)):
            shape = tuple(_spikes(shape))
            if time_major[role] is False or len(shape) < 3:
                raise ValueError(
                    f"{owner}: the {role} layer must output spike trains (batch, T, "
                    f"...features); {getattr(self, role + '_layer_name')!r} gives shape "
                    f"{shape}. Point `{role}_layer_name` at a spiking layer."
                )
            shapes[role] = shape
        if shapes["teacher"][2:] != shapes["student"][2:]:
            raise ValueError(
                f"{owner}: teacher and student spiking layers must have the same "
                f"features (all axes after time); got teacher {shapes['teacher']} "
                f"({self.teacher_layer_name!r}) and student {shapes['student']} "
                f"({self.student_layer_name!r})."
            )

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        teacher = ops.cast(_spikes(teacher_outputs), self.compute_dtype)
        student = ops.cast(_spikes(student_outputs), self.compute_dtype)
        return self.rate_loss(time_mean(teacher), time_mean(student), student.shape[1])

    def rate_loss(self, teacher_rates, student_rates, student_steps):
        """Returns the scalar loss from the rates; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement rate_loss.")
