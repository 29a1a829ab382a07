"""`FiringRateRegularizer`: an activity regularizer that pushes firing rates down."""

import keras
from keras import ops

from keras_snnkd.validation import check_choice, check_number


@keras.saving.register_keras_serializable(package="keras_snnkd")
class FiringRateRegularizer(keras.regularizers.Regularizer):
    """Penalizes spiking above a target rate; use it as a neuron's activity regularizer.

    For spikes ``s`` of shape ``(batch, T, ...)`` the rate of sample ``b`` is
    ``r_b = mean(s_b)`` (spikes per neuron per step) and the penalty is

    ``P = strength * sum_b max(0, r_b - target) ** power``.

    Keras divides an activity regularizer's value by the batch size, so the
    loss added during training is the batch mean of the per-sample penalty.
    The gradient reaches the weights through the neuron's surrogate. Give it
    to a neuron that returns spikes only (``return_membrane=False``):
    ``LIF(activity_regularizer=FiringRateRegularizer(1e-2))``.

    Args:
        strength: penalty weight (>= 0).
        target: rate below which nothing is penalized, in [0, 1).
        power: 1 (linear, a constant push towards ``target``) or 2 (quadratic,
            Zenke & Vogels 2021 style upper bound).

    Returns:
        A scalar penalty when called on a spike tensor.

    Example:
    >>> import numpy as np, keras
    >>> from keras_snnkd.cost import FiringRateRegularizer
    >>> spikes = np.zeros((2, 4, 10), "float32"); spikes[0, :, :5] = 1  # rates 0.5, 0
    >>> penalty = FiringRateRegularizer(2.0, target=0.1)(spikes)
    >>> round(float(keras.ops.convert_to_numpy(penalty)), 4)
    0.8
    """

    def __init__(self, strength=1e-2, target=0.0, power=1):
        owner = type(self).__name__
        self.strength = check_number(owner, "strength", strength, low=0.0, low_inclusive=True)
        self.target = check_number(owner, "target", target, low=0.0, low_inclusive=True,
                                   high=1.0, high_inclusive=False)
        self.power = check_choice(owner, "power", power, (1, 2))

    def __call__(self, x):
        if len(x.shape) < 2:
            raise ValueError(
                "FiringRateRegularizer: expects spikes of shape (batch, T, ...); got "
                f"shape {tuple(x.shape)}."
            )
        rates = ops.mean(x, axis=tuple(range(1, len(x.shape))))
        excess = ops.relu(rates - self.target)
        if self.power == 2:
            excess = ops.square(excess)
        return self.strength * ops.sum(excess)

    def get_config(self):
        return {"strength": self.strength, "target": self.target, "power": self.power}
