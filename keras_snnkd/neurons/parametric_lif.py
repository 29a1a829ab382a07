"""`ParametricLIF`: a LIF neuron whose time constant is learned."""

import math

import keras
from keras import ops

from keras_snnkd.neurons.base import SpikingNeuron
from keras_snnkd.validation import check_number


@keras.saving.register_keras_serializable(package="keras_snnkd")
class ParametricLIF(SpikingNeuron):
    """LIF neuron with a learnable membrane time constant (PLIF, Fang et al., 2021).

    A trainable scalar ``w`` gives ``k = sigmoid(w) = 1/tau`` (so ``tau`` stays
    above 1), initialised from ``init_tau``. With resting potential ``u_rest``:

    - ``decay_input=True``: ``h_t = v_{t-1} + (x_t - (v_{t-1} - u_rest)) * k``
    - ``decay_input=False``: ``h_t = v_{t-1} - (v_{t-1} - u_rest) * k + x_t``

    then ``s_t = H(h_t - theta)`` and the reset, as in `LIF`.

    Args:
        init_tau: initial time constant, > 1.
        decay_input: whether the input is scaled by ``k`` too.
        threshold: positive float, the firing threshold ``theta``.
        **kwargs: the options of `keras_snnkd.neurons.SpikingNeuron` and
            standard layer arguments.

    Returns:
        Spikes shaped like the input ``(batch, time, ...)``.

    Example:
    >>> import numpy as np, keras
    >>> from keras_snnkd.neurons import ParametricLIF
    >>> layer = ParametricLIF(init_tau=2.0)
    >>> keras.ops.convert_to_numpy(layer(np.full((1, 3, 1), 1.5, "float32")))[0, :, 0].tolist()
    [0.0, 1.0, 0.0]
    >>> round(float(keras.ops.convert_to_numpy(layer.tau)), 4)
    2.0
    """

    def __init__(self, init_tau=2.0, decay_input=True, threshold=1.0, **kwargs):
        super().__init__(threshold=threshold, **kwargs)
        owner = type(self).__name__
        self.init_tau = check_number(owner, "init_tau", init_tau, low=1.0)
        if not isinstance(decay_input, bool):
            raise TypeError(f"{owner}: `decay_input` must be a bool, got {decay_input!r}.")
        self.decay_input = decay_input

    def build(self, input_shape):
        super().build(input_shape)
        self.w = self.add_weight(
            name="w",
            shape=(),
            initializer=keras.initializers.Constant(-math.log(self.init_tau - 1.0)),
            trainable=True,
        )

    @property
    def tau(self):
        """The current time constant ``1 / sigmoid(w)`` as a tensor."""
        return 1.0 / ops.sigmoid(self.w)

    def charge_function(self):
        rest = self.resting_potential
        k = ops.sigmoid(ops.cast(self.w, self.state_dtype))
        decay_input = self.decay_input

        def charge(v, x):
            leak = v - rest if rest else v
            if decay_input:
                return v + (x - leak) * k
            return v - leak * k + x

        return charge

    def get_config(self):
        config = super().get_config()
        config.update(init_tau=self.init_tau, decay_input=self.decay_input)
        return config

    @classmethod
    def from_spikingjelly(cls, init_tau=2.0, decay_input=True, v_threshold=1.0,
                          v_reset=0.0, surrogate="sigmoid", detach_reset=False,
                          unroll=True, **kwargs):
        """A `ParametricLIF` matching SpikingJelly's ``neuron.ParametricLIFNode``.

        Same arguments as SpikingJelly (``v_reset=None`` is the soft reset);
        ``unroll`` as in `LIF.from_spikingjelly` (True: bit for bit when eager).
        """
        return cls(
            init_tau=init_tau,
            decay_input=decay_input,
            threshold=v_threshold,
            reset="subtract" if v_reset is None else "zero",
            v_reset=0.0 if v_reset is None else v_reset,
            surrogate=surrogate,
            detach_reset=detach_reset,
            threshold_inclusive=True,
            unroll=unroll,
            **kwargs,
        )
