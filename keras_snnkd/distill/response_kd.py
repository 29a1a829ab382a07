"""`ResponseKD`: Hinton's knowledge distillation on the output logits."""

import keras
from keras import ops

from keras_snnkd.distill.kd_loss import KDLoss
from keras_snnkd.distill.model_outputs import time_mean
from keras_snnkd.distill.tempered_kl import standardized, tempered_kl
from keras_snnkd.validation import check_number


@keras.saving.register_keras_serializable(package="keras_snnkd")
class ResponseKD(KDLoss):
    """Response-based distillation (Hinton et al., 2015): soft targets from the teacher.

    With teacher logits ``z_t``, student logits ``z_s`` and temperature ``tau``:

    ``L = tau^2 * 1/B sum_b KL(softmax(z_t / tau) || softmax(z_s / tau))``

    The student's logits are its output, i.e. its readout over time (e.g.
    `keras_snnkd.layers.MeanOverTime` of the last layer). A student whose
    output still has a time axis, ``(batch, T, classes)`` against the teacher's
    ``(batch, classes)``, is averaged over time first. Works for ANN and SNN
    teachers alike, and for teachers that run a different number of steps.

    With ``standardize=True`` both logit vectors are first standardized per
    sample, ``z <- (z - mean(z)) / std(z)`` (Sun et al., 2024), so the student
    matches the teacher's logit *shape* and not its scale: an SNN student's
    logits (time-averaged readouts of binary spikes) are much harder to scale
    up than an ANN's.

    Args:
        temperature: ``tau > 0``; higher values soften the targets (2 to 8 is usual).
        standardize: standardize both logit vectors before softening.
        teacher_layer_name, student_layer_name: read logits from these layers
            instead of the model outputs (default None: the outputs).
        **kwargs: `keras.layers.Layer` arguments.

    Example:
    >>> import numpy as np
    >>> from keras_snnkd.distill import ResponseKD
    >>> z = np.array([[2.0, 0.0, -1.0]], "float32")
    >>> float(ResponseKD(temperature=2.0).compute_loss(z, z))
    0.0
    >>> round(float(ResponseKD(temperature=2.0).compute_loss(z, -z)), 3)
    3.026
    """

    def __init__(self, temperature=4.0, standardize=False, **kwargs):
        super().__init__(**kwargs)
        self.temperature = check_number(type(self).__name__, "temperature", temperature, low=0.0)
        if not isinstance(standardize, bool):
            raise TypeError(
                f"{type(self).__name__}: `standardize` must be a bool, got {standardize!r}."
            )
        self.standardize = standardize

    def build(self, teacher_shape, student_shape):
        owner = type(self).__name__
        for role, shape in (("teacher", teacher_shape), ("student", student_shape)):
            if not all(isinstance(d, (int, type(None))) for d in shape):
                raise ValueError(
                    f"{owner}: the {role} signal must be one logits tensor, got a "
                    f"structure of shapes {shape}. Point `{role}_layer_name` at a "
                    "layer with a single output."
                )
        averaged = len(student_shape) == len(teacher_shape) + 1
        compared = (student_shape[:1] + student_shape[2:]) if averaged else student_shape
        if tuple(compared[1:]) != tuple(teacher_shape[1:]):
            note = " after averaging the student over time (axis 1)" if averaged else ""
            raise ValueError(
                f"{owner}: teacher and student logits must have the same shape; got "
                f"teacher {teacher_shape} and student {student_shape}{note}. They must "
                "predict the same classes."
            )

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        teacher = ops.cast(teacher_outputs, self.compute_dtype)
        student = ops.cast(student_outputs, self.compute_dtype)
        if len(student.shape) == len(teacher.shape) + 1:
            student = time_mean(student)
        if self.standardize:
            teacher, student = standardized(teacher), standardized(student)
        return tempered_kl(teacher, student, self.temperature)

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature,
                "standardize": self.standardize}
