"""`StepReLU`: the quantized clipped ReLU that an integrate-and-fire neuron computes."""

import keras
from keras import ops

from keras_snnkd.validation import check_float_dtype, check_number, check_positive_int


@keras.saving.register_keras_serializable(package="keras_snnkd")
class StepReLU(keras.layers.Layer):
    """Quantized, clipped, shifted ReLU whose output is an IF neuron's rate.

    With ``T`` levels, threshold ``theta`` and shift ``phi``:

    ``n = clip(ceil(x * T / theta + phi) - 1, 0, T)``, ``y = n / T * theta``.

    That is ``floor(x * T / theta + phi) / T * theta`` clipped to
    ``[0, theta]`` (the quantization-clip-floor-shift activation of Bu et
    al., 2022) except exactly on a step, where it takes the lower level.
    This is what `keras_snnkd.neurons.IF` computes: an IF neuron with
    threshold ``theta``, soft reset, strict firing ``h > theta`` and initial
    membrane ``v_0 = phi * theta``, fed the constant current ``x`` for ``T``
    steps, fires exactly ``n`` times. (Its membrane before step ``t`` is
    ``v_0 + t x - theta N_{t-1}``; for ``0 <= x <= theta`` it crosses at most
    one threshold per step, so ``N_t`` counts the ``k >= 1`` with
    ``k theta < v_0 + t x``, i.e. ``ceil((v_0 + t x) / theta) - 1``; for
    ``x > theta`` it fires every step and for ``x <= 0`` never, as long as
    ``0 <= v_0 <= theta``.) So ``y = theta * rate`` and a network trained with
    this activation converts to an SNN with no conversion error in its first
    spiking layer (`keras_snnkd.convert.ann_to_snn`). ``phi = 0.5`` (the
    default, ``v_0 = theta / 2``) rounds to the nearest level; ``phi = 0``
    floors like an IF neuron starting from rest.

    The gradient is straight-through: within the range (``0 <= n_raw <= T``
    for the unclipped ``n_raw``) ``dy/dx = 1`` and ``dy/dtheta = n / T -
    x / theta``; above it ``dy/dtheta = 1``; below it both are 0.

    Args:
        levels: number of levels ``T`` above zero (int >= 1): the number of
            time steps of the SNN it converts to.
        threshold: initial value of ``theta`` (> 0), the clipping ceiling.
        shift: ``phi`` in [0, 1]; the converted neuron starts at ``phi * theta``.
        trainable_threshold: whether ``theta`` is learned (default True).
        **kwargs: standard `keras.layers.Layer` arguments.

    Returns:
        A tensor shaped like the input with values in ``{0, theta/T, ..., theta}``.

    Example:
    >>> import numpy as np, keras
    >>> from keras_snnkd.layers import StepReLU
    >>> x = np.array([[-0.5, 0.1, 0.2, 0.625, 0.9, 2.0]], "float32")
    >>> keras.ops.convert_to_numpy(StepReLU(levels=4, threshold=1.0)(x)).tolist()
    [[0.0, 0.0, 0.25, 0.5, 1.0, 1.0]]
    """

    def __init__(self, levels, threshold=1.0, shift=0.5, trainable_threshold=True, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.levels = check_positive_int(owner, "levels", levels)
        self.threshold = check_number(owner, "threshold", threshold, low=0)
        self.shift = check_number(owner, "shift", shift, low=0, low_inclusive=True,
                                  high=1)
        if not isinstance(trainable_threshold, bool):
            raise TypeError(
                f"{owner}: `trainable_threshold` must be a bool, got {trainable_threshold!r}."
            )
        self.trainable_threshold = trainable_threshold

    def build(self, input_shape):
        self.threshold_weight = self.add_weight(
            name="threshold",
            shape=(),
            initializer=keras.initializers.Constant(self.threshold),
            trainable=self.trainable_threshold,
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def call(self, inputs):
        check_float_dtype(type(self).__name__, inputs.dtype)
        theta = ops.cast(self.threshold_weight, inputs.dtype)
        levels = float(self.levels)
        raw = ops.ceil(inputs / theta * levels + self.shift) - 1.0
        n = ops.clip(ops.stop_gradient(raw), 0.0, levels)
        exact = n / levels * theta
        # Straight-through surrogate; its value is subtracted back out, so the
        # forward pass is `exact` to the bit and only its gradient remains.
        inside = ops.logical_and(ops.greater_equal(raw, 0.0), ops.less_equal(raw, levels))
        above = ops.greater(raw, levels)
        smooth = ops.where(
            inside,
            inputs + theta * ops.stop_gradient(n / levels - inputs / theta),
            ops.where(above, theta * ops.ones_like(inputs), ops.zeros_like(inputs)),
        )
        return ops.stop_gradient(exact) + (smooth - ops.stop_gradient(smooth))

    def get_config(self):
        return {**super().get_config(), "levels": self.levels, "threshold": self.threshold,
                "shift": self.shift, "trainable_threshold": self.trainable_threshold}
