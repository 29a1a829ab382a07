"""`IF`: the integrate-and-fire neuron."""

import keras

from keras_snnkd.neurons.base import SpikingNeuron


@keras.saving.register_keras_serializable(package="keras_snnkd")
class IF(SpikingNeuron):
    """Integrate-and-fire neuron (no leak).

    Per time step, with input current ``x_t``:

    ``h_t = v_{t-1} + x_t``; ``s_t = H(h_t - theta)``; then the reset
    (``v_t = h_t - s_t * theta`` by default).

    Under direct (constant) input and soft reset its firing rate over ``T``
    steps approximates ``clip(x / theta, 0, 1)``, which is what ANN to SNN
    conversion relies on.

    Args:
        threshold: positive float, the firing threshold ``theta``.
        **kwargs: the options of `keras_snnkd.neurons.SpikingNeuron` (reset,
            v_reset, surrogate, detach_reset, trainable_threshold,
            threshold_inclusive, reset_delay, return_membrane, unroll) and
            standard layer arguments.

    Returns:
        Spikes shaped like the input ``(batch, time, ...)``.

    Example:
    >>> import numpy as np, keras
    >>> from keras_snnkd.neurons import IF
    >>> x = np.full((1, 4, 1), 0.6, "float32")
    >>> keras.ops.convert_to_numpy(IF()(x))[0, :, 0].tolist()
    [0.0, 1.0, 0.0, 1.0]
    """

    def charge_function(self):
        return lambda v, x: v + x

    @classmethod
    def from_spikingjelly(cls, v_threshold=1.0, v_reset=0.0, surrogate="sigmoid",
                          detach_reset=False, unroll=True, **kwargs):
        """An `IF` reproducing SpikingJelly's ``neuron.IFNode`` exactly.

        Args:
            v_threshold: SpikingJelly's ``v_threshold``.
            v_reset: SpikingJelly's ``v_reset``; None selects the soft reset.
            surrogate: SpikingJelly's default is ``Sigmoid(alpha=4)``.
            detach_reset: as in SpikingJelly.
            unroll: True (default here) runs the time loop step by step as the
                peer does, so eager execution gives the peer's spikes and
                membranes bit for bit; a scanned or XLA-compiled loop may fuse
                multiply-adds and differ in the last bit of the membrane.
            **kwargs: other `IF` arguments.
        """
        return cls(
            threshold=v_threshold,
            reset="subtract" if v_reset is None else "zero",
            v_reset=0.0 if v_reset is None else v_reset,
            surrogate=surrogate,
            detach_reset=detach_reset,
            threshold_inclusive=True,
            unroll=unroll,
            **kwargs,
        )
