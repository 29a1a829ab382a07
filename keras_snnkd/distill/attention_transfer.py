"""`AttentionTransfer`: matching spatial attention maps of teacher and student."""

import keras
from keras import ops

from keras_snnkd.distill.feature_loss import FeatureLoss
from keras_snnkd.validation import check_number


def _unit_rows(x):
    """Each sample of ``x`` flattened and scaled to unit L2 norm, ``(batch, features)``.

    The squared norm is floored (1e-24), not the norm: ``sqrt`` has an infinite
    slope at 0, and a student layer that stays silent for a sample is all zeros.
    """
    x = ops.reshape(x, (ops.shape(x)[0], -1))
    return x * ops.rsqrt(ops.maximum(ops.sum(ops.square(x), axis=-1, keepdims=True), 1e-24))


@keras.saving.register_keras_serializable(package="keras_snnkd")
class AttentionTransfer(FeatureLoss):
    """Attention transfer (Zagoruyko & Komodakis, 2017) from a teacher feature map.

    For a feature map ``F`` of shape ``(batch, H, W, C)`` the attention map is
    the channel mean of ``|F|^p``, flattened and L2-normalised:

    ``Q(F) = a / ||a||_2``,  ``a = vec(1/C sum_c |F_c|^p)``

    and ``L = mean((Q(f_t) - Q(r_s))^2)`` over batch and positions, with
    ``r_s`` the student's time-averaged firing rates (or membrane). Channel
    counts may differ; the spatial axes must match. The reference
    implementation weights this term by ``beta = 1000``: pass that as its loss
    weight.

    Args:
        teacher_layer_name, student_layer_name, signal: as in `FeatureLoss`.
        p: the exponent ``p > 0`` (default 2).
        **kwargs: `keras.layers.Layer` arguments.

    Example:
    >>> import numpy as np
    >>> from keras_snnkd.distill import AttentionTransfer
    >>> loss = AttentionTransfer("conv", "lif")
    >>> loss.build((None, 4, 4, 3), (None, 2, 4, 4, 3))
    >>> f = np.random.default_rng(0).random((2, 4, 4, 3)).astype("float32")
    >>> rates_like_f = np.repeat(f[:, None], 2, axis=1)  # (batch, T=2, 4, 4, 3)
    >>> float(loss.compute_loss(f, rates_like_f))
    0.0
    """

    def __init__(self, teacher_layer_name, student_layer_name, signal="rate", p=2.0,
                 **kwargs):
        super().__init__(teacher_layer_name, student_layer_name, signal=signal, **kwargs)
        self.p = check_number(type(self).__name__, "p", p, low=0.0)

    def build_features(self, teacher_shape, student_shape):
        if len(teacher_shape) < 3 or teacher_shape[1:-1] != student_shape[1:-1]:
            raise ValueError(
                f"{type(self).__name__}: teacher feature {teacher_shape} and student "
                f"feature {student_shape} (averaged over time) must be maps "
                "(batch, ...spatial, channels) with the same spatial axes."
            )

    def _attention(self, features):
        return _unit_rows(ops.mean(ops.power(ops.abs(features), self.p), axis=-1))

    def feature_loss(self, teacher, student):
        return ops.mean(ops.square(self._attention(teacher) - self._attention(student)))

    def get_config(self):
        return {**super().get_config(), "p": self.p}
