"""`LIF`: the leaky integrate-and-fire neuron, with snnTorch and SpikingJelly presets."""

import keras
from keras import ops

from keras_snnkd.neurons.base import SpikingNeuron
from keras_snnkd.validation import check_number


@keras.saving.register_keras_serializable(package="keras_snnkd")
class LIF(SpikingNeuron):
    """Leaky integrate-and-fire neuron.

    The leak is given either as a decay factor ``beta`` or as a time constant
    ``tau`` (``beta = 1 - 1/tau``); each form keeps its own floating-point
    operation order so the peer presets are exact. With resting potential
    ``u_rest`` (``v_reset`` for ``reset="zero"``, else 0) the charge is:

    - ``beta`` form: ``h_t = beta * v_{t-1} + x_t``
      (``decay_input=True``: ``beta * v_{t-1} + (1 - beta) * x_t``),
      leaking towards ``u_rest``;
    - ``tau`` form (SpikingJelly): ``h_t = v_{t-1} - (v_{t-1} - u_rest) / tau + x_t``
      (``decay_input=True``: ``h_t = v_{t-1} + (x_t - (v_{t-1} - u_rest)) / tau``).

    Then ``s_t = H(h_t - theta)`` and the reset (soft by default:
    ``v_t = h_t - s_t * theta``). This library's default is ``beta=0.9``,
    strict ``h > theta``, soft reset applied in the same step, arctan surrogate.

    Args:
        beta: decay factor in [0, 1]; default 0.9 when ``tau`` is not given.
        tau: membrane time constant >= 1 (SpikingJelly form); exclusive with
            ``beta``.
        decay_input: whether the input is scaled by the leak too.
        threshold: positive float, the firing threshold ``theta``.
        **kwargs: the options of `keras_snnkd.neurons.SpikingNeuron` (reset,
            v_reset, surrogate, detach_reset, trainable_threshold,
            threshold_inclusive, reset_delay, return_membrane, unroll) and
            standard layer arguments.

    Returns:
        Spikes shaped like the input ``(batch, time, ...)``.

    Example:
    >>> import numpy as np, keras
    >>> from keras_snnkd.neurons import LIF
    >>> x = np.full((1, 5, 1), 0.6, "float32")
    >>> keras.ops.convert_to_numpy(LIF(beta=0.5)(x))[0, :, 0].tolist()
    [0.0, 0.0, 1.0, 0.0, 0.0]
    >>> keras.ops.convert_to_numpy(LIF(beta=0.9)(x))[0, :, 0].tolist()
    [0.0, 1.0, 0.0, 1.0, 0.0]
    """

    def __init__(self, beta=None, tau=None, decay_input=False, threshold=1.0, **kwargs):
        super().__init__(threshold=threshold, **kwargs)
        owner = type(self).__name__
        if beta is not None and tau is not None:
            raise ValueError(
                f"{owner}: give either `beta` or `tau`, not both; got "
                f"beta={beta!r}, tau={tau!r}."
            )
        if tau is not None:
            self.tau = check_number(owner, "tau", tau, low=1.0, low_inclusive=True)
            self.beta = None
        else:
            self.beta = check_number(
                owner, "beta", 0.9 if beta is None else beta, low=0.0,
                low_inclusive=True, high=1.0,
            )
            self.tau = None
        if not isinstance(decay_input, bool):
            raise TypeError(f"{owner}: `decay_input` must be a bool, got {decay_input!r}.")
        self.decay_input = decay_input

    @property
    def decay(self):
        """The per-step decay factor ``beta`` (``1 - 1/tau`` in the tau form)."""
        return self.beta if self.tau is None else 1.0 - 1.0 / self.tau

    def charge_function(self):
        rest = self.resting_potential
        if self.tau is not None:
            tau, decay_input = self.tau, self.decay_input

            def charge(v, x):
                # Divide by a full tensor, not a scalar: XLA rewrites division
                # by a broadcast scalar as multiplication by its reciprocal,
                # which rounds differently from SpikingJelly's true division.
                # (Compiled graphs may still fold it; eager results are exact
                # on every backend.)
                tau_t = ops.full_like(v, tau)
                leak = v - rest if rest else v
                if decay_input:
                    return v + (x - leak) / tau_t
                return v - leak / tau_t + x

            return charge
        beta, scale = self.beta, (1.0 - self.beta) if self.decay_input else None

        def charge(v, x):
            x_in = scale * x if scale is not None else x
            if rest:
                return rest + beta * (v - rest) + x_in
            return beta * v + x_in

        return charge

    def get_config(self):
        config = super().get_config()
        config.update(beta=self.beta, tau=self.tau, decay_input=self.decay_input)
        return config

    @classmethod
    def from_snntorch(cls, beta, threshold=1.0, reset_mechanism="subtract",
                      surrogate="arctan", learn_threshold=False, reset_delay=True,
                      unroll=True, **kwargs):
        """A `LIF` reproducing ``snntorch.Leaky`` exactly (float32).

        snnTorch computes ``U_t = beta * U_{t-1} + X_t - R_t * theta`` with
        ``R_t = H(U_{t-1} - theta)`` detached (reset by subtraction; for
        ``"zero"``, ``U_t = beta * (1 - R_t) * U_{t-1} + X_t``), and
        ``S_t = H(U_t - theta)``.

        Args:
            beta: snnTorch's ``beta`` in [0, 1].
            threshold: snnTorch's ``threshold``.
            reset_mechanism: ``"subtract"``, ``"zero"`` or ``"none"``.
            surrogate: surrogate for ``spike_grad`` (snnTorch's default is
                ``atan``, i.e. ``"arctan"`` with alpha 2).
            learn_threshold: snnTorch's ``learn_threshold``.
            reset_delay: snnTorch's ``reset_delay``; only its default (True)
                is reproduced.
            unroll: True (default here) runs the time loop step by step as the
                peer does, so eager execution gives the peer's spikes and
                membranes bit for bit; a scanned or XLA-compiled loop may fuse
                multiply-adds and differ in the last bit of the membrane.
            **kwargs: other `LIF` arguments.
        """
        if reset_delay is not True:
            raise ValueError(
                "LIF.from_snntorch: only snnTorch's default `reset_delay=True` is "
                f"reproduced; got reset_delay={reset_delay!r}. For a reset in the "
                "same step use LIF(beta=...) directly."
            )
        return cls(
            beta=beta,
            threshold=threshold,
            reset=reset_mechanism,
            surrogate=surrogate,
            trainable_threshold=learn_threshold,
            reset_delay=True,
            unroll=unroll,
            **kwargs,
        )

    @classmethod
    def from_spikingjelly(cls, tau=2.0, decay_input=True, v_threshold=1.0, v_reset=0.0,
                          surrogate="sigmoid", detach_reset=False, unroll=True, **kwargs):
        """A `LIF` reproducing SpikingJelly's ``neuron.LIFNode`` exactly (float32).

        Args:
            tau: SpikingJelly's ``tau`` (> 1 there).
            decay_input: SpikingJelly's ``decay_input``.
            v_threshold: SpikingJelly's ``v_threshold``.
            v_reset: SpikingJelly's ``v_reset``; None selects the soft reset.
            surrogate: SpikingJelly's default is ``Sigmoid(alpha=4)``.
            detach_reset: as in SpikingJelly.
            unroll: True (default here) runs the time loop step by step as the
                peer does, so eager execution gives the peer's spikes and
                membranes bit for bit; a scanned or XLA-compiled loop may fuse
                multiply-adds and differ in the last bit of the membrane.
            **kwargs: other `LIF` arguments.
        """
        return cls(
            tau=tau,
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
