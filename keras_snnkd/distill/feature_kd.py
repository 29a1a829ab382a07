"""`FeatureKD`: hint-style feature distillation from a teacher feature map."""

import keras
from keras import ops

from keras_snnkd.distill.feature_loss import FeatureLoss

ADAPTERS = ("auto", True, False)
EPSILON = 1e-6  # inside the square root: a dead teacher channel (all 0) stays 0


@keras.saving.register_keras_serializable(package="keras_snnkd")
class FeatureKD(FeatureLoss):
    """Feature distillation (FitNets hints; KDSNN for ANN -> SNN).

    The teacher feature ``f_t`` (e.g. an ANN conv map ``(batch, H, W, C_t)``)
    is matched with the student's time-averaged firing rates (or membrane)
    ``r_s = 1/T sum_t s_t`` at a named layer, ``(batch, H, W, C_s)``, through a
    learned 1x1 adapter ``A`` (a Dense on the channel axis, ``C_s -> C_t``):

    ``L = mean((A(r_s) - f_t)^2)``

    The adapter belongs to the distiller, not to the student: it trains with
    the student and is dropped with the teacher. All axes but the channels must
    match.

    With ``normalize_teacher=True`` each teacher channel ``c`` is first divided
    by its root mean square over the batch and every other axis,

    ``f_t[..., c] <- f_t[..., c] / sqrt(mean(f_t[..., c]^2) + eps)``

    so the targets have the scale of firing rates (order 1) whatever the
    teacher layer's: raw ReLU activations of a dense layer can reach tens, and
    the hint then swamps the student's cross-entropy. Only the teacher is
    normalized. It is a constant with no gradient, so the scaling cannot blow
    up; normalizing the student too (e.g. per sample to unit norm) divides the
    gradient by the norm of the student's rates, which is 0 for a layer that
    is still silent.

    Args:
        teacher_layer_name: the teacher layer whose output is matched.
        student_layer_name: the student layer (a spiking layer, time-major).
        signal: ``"rate"`` (spikes averaged over time) or ``"membrane"``
            (membrane averaged over time; the layer must use
            ``return_membrane=True``).
        adapter: ``"auto"`` (an adapter only when the channel counts differ),
            True (always: also learns the scale between analog activations and
            rates in [0, 1]) or False (never; channels must match).
        normalize_teacher: scale every teacher channel to unit root mean
            square over the batch (see above).
        **kwargs: `keras.layers.Layer` arguments.

    Example:
    >>> import keras
    >>> from keras_snnkd.distill import FeatureKD
    >>> from keras_snnkd.models import reference_ann, reference_snn
    >>> teacher, student = reference_ann(), reference_snn(timesteps=2)
    >>> loss = FeatureKD(teacher.layers[0].name, student.layers[2].name, adapter=True)
    >>> loss.validate_model_compatibility(teacher, student)
    >>> tuple(loss.adapter.kernel.shape)  # 32 student channels -> 32 teacher channels
    (32, 32)
    >>> import numpy as np
    >>> scaled = FeatureKD("t", "s", normalize_teacher=True)
    >>> scaled.build((None, 2), (None, 3, 2))
    >>> teacher = np.array([[10.0, 0.2], [-10.0, -0.2]], "float32")  # channel RMS 10 and 0.2
    >>> rates = np.ones((2, 3, 2), "float32"); rates[1] = 0.0  # rates 1 then 0
    >>> round(float(scaled.compute_loss(teacher, rates)), 4)  # ((1-1)^2 + (0+1)^2) / 2
    0.5
    """

    def __init__(self, teacher_layer_name, student_layer_name, signal="rate",
                 adapter="auto", normalize_teacher=False, **kwargs):
        if not any(adapter is a or (isinstance(a, str) and adapter == a) for a in ADAPTERS):
            raise ValueError(
                f"{type(self).__name__}: `adapter` must be 'auto', True or False; "
                f"got {adapter!r}."
            )
        if not isinstance(normalize_teacher, bool):
            raise TypeError(
                f"{type(self).__name__}: `normalize_teacher` must be a bool, got "
                f"{normalize_teacher!r}."
            )
        super().__init__(teacher_layer_name, student_layer_name, signal=signal, **kwargs)
        self.use_adapter = adapter
        self.normalize_teacher = normalize_teacher
        self.adapter = None

    def build_features(self, teacher_shape, student_shape):
        owner = type(self).__name__
        if teacher_shape[1:-1] != student_shape[1:-1]:
            raise ValueError(
                f"{owner}: teacher feature {teacher_shape} ({self.teacher_layer_name!r}) "
                f"and student feature {student_shape} ({self.student_layer_name!r}, "
                "averaged over time) must match on every axis but the channels."
            )
        channels_differ = teacher_shape[-1] != student_shape[-1]
        if channels_differ and self.use_adapter is False:
            raise ValueError(
                f"{owner}: the teacher feature has {teacher_shape[-1]} channels and the "
                f"student's {student_shape[-1]}; use adapter='auto' or True to learn "
                "a 1x1 adapter between them."
            )
        if self.use_adapter is True or channels_differ:
            self.adapter = keras.layers.Dense(teacher_shape[-1], name="adapter",
                                              dtype=self.dtype_policy)
            self.adapter.build(student_shape)

    def feature_loss(self, teacher, student):
        if self.normalize_teacher:
            axes = tuple(range(len(teacher.shape) - 1))
            teacher = teacher * ops.rsqrt(
                ops.mean(ops.square(teacher), axis=axes, keepdims=True) + EPSILON)
        if self.adapter is not None:
            student = self.adapter(student)
        return ops.mean(ops.square(student - teacher))

    def get_config(self):
        return {**super().get_config(), "adapter": self.use_adapter,
                "normalize_teacher": self.normalize_teacher}
