"""`FeatureLoss`: the base of losses between intermediate feature maps."""

import keras
from keras import ops

from keras_snnkd.distill.kd_loss import KDLoss
from keras_snnkd.distill.model_outputs import is_pair, time_mean
from keras_snnkd.validation import check_choice

SIGNALS = ("rate", "membrane")



@keras.saving.register_keras_serializable(package="keras_snnkd")
class FeatureLoss(KDLoss):
    """Base of the losses matching a teacher feature map with a student's (KDSNN).

    The student layer's output is a time-major tensor ``(batch, T, ...)``;
    with ``signal="rate"`` it is averaged over time into firing rates
    ``r = 1/T sum_t s_t``, with ``signal="membrane"`` the layer must return
    ``(spikes, membrane)`` (a neuron built with ``return_membrane=True``) and
    the membrane is averaged. The teacher's feature is used as it is for an ANN
    teacher ``(batch, ...)``; a time-major teacher feature (an SNN teacher's
    neuron, encoder or `keras_snnkd.layers.TimeFolded` layer) is averaged over
    time the same way.
    Subclasses implement ``build_features(teacher_shape, student_shape)`` on
    the time-free shapes and ``feature_loss(teacher, student)``.

    Args:
        teacher_layer_name: the teacher layer (str).
        student_layer_name: the student layer (str), usually a spiking layer.
        signal: ``"rate"`` or ``"membrane"``.
        **kwargs: `keras.layers.Layer` arguments.
    """

    def __init__(self, teacher_layer_name, student_layer_name, signal="rate", **kwargs):
        owner = type(self).__name__
        for arg, value in (("teacher_layer_name", teacher_layer_name),
                           ("student_layer_name", student_layer_name)):
            if not isinstance(value, str):
                raise TypeError(
                    f"{owner}: `{arg}` must be a layer name (str), got {value!r}."
                )
        super().__init__(teacher_layer_name=teacher_layer_name,
                         student_layer_name=student_layer_name, **kwargs)
        self.signal = check_choice(owner, "signal", signal, SIGNALS)
        self._teacher_has_time = None

    def _select(self, value, role):
        """The rate or membrane entry of a neuron's output (tensors or shapes)."""
        if not is_pair(value):
            if role == "student" and self.signal == "membrane":
                raise ValueError(
                    f"{type(self).__name__}: signal='membrane' needs the student layer "
                    f"{self.student_layer_name!r} to return (spikes, membrane); build "
                    "it with return_membrane=True, or use signal='rate'."
                )
            return value
        return value[1] if self.signal == "membrane" else value[0]

    def build(self, teacher_shape, student_shape):
        owner = type(self).__name__
        student = tuple(self._select(student_shape, "student"))
        teacher = tuple(self._select(teacher_shape, "teacher"))
        teacher_time, student_time = self.time_major or (None, None)
        if student_time is False or len(student) < 3:
            raise ValueError(
                f"{owner}: the student layer {self.student_layer_name!r} must be "
                f"time-major (batch, T, ...features), e.g. a spiking layer; it gives "
                f"shape {student}."
            )
        self._teacher_has_time = (len(teacher) == len(student) if teacher_time is None
                                  else teacher_time)
        if self._teacher_has_time:
            teacher = teacher[:1] + teacher[2:]
        self.build_features(teacher, student[:1] + student[2:])

    def build_features(self, teacher_shape, student_shape):
        """Checks the time-free feature shapes (and creates weights)."""

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        teacher = ops.cast(self._select(teacher_outputs, "teacher"), self.compute_dtype)
        student = ops.cast(self._select(student_outputs, "student"), self.compute_dtype)
        if self._teacher_has_time:
            teacher = time_mean(teacher)
        return self.feature_loss(teacher, time_mean(student))

    def feature_loss(self, teacher, student):
        """Returns the scalar loss between time-free features; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement feature_loss.")

    def get_config(self):
        return {**super().get_config(), "signal": self.signal}
