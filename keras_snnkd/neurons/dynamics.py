"""Neuron dynamics as pure functions: charge, fire, reset (``keras.ops`` only).

A discrete-time spiking neuron advances in three moves per time step ``t``
(SpikingJelly's decomposition):

1. **charge**: ``h_t = f(v_{t-1}, x_t)``, the membrane before firing;
2. **fire**: ``s_t = H(h_t - theta)``, a 0/1 spike through a surrogate;
3. **reset**: ``v_t = g(h_t, s_t)``: subtract ``theta`` (soft reset), set to
   ``v_reset`` (hard reset), or leave ``h_t`` (no reset).

snnTorch orders the moves differently ("reset delay"): the reset of step ``t``
is decided by the *previous* membrane and applied inside the charge,
``v_t = beta * v_{t-1} + x_t - H(v_{t-1} - theta) * theta``, and the spike is
``s_t = H(v_t - theta)``. `neuron_step` implements both orders with the exact
floating-point operation order of each peer, so the presets in `keras_snnkd.neurons`
reproduce their spike trains bit for bit in float32.

The charge functions of the neuron classes live with the classes; the helpers
here are shared by all of them.
"""

from keras import ops

RESETS = ("subtract", "zero", "none")


def time_steps(inputs, timesteps):
    """Splits ``(batch, T, ...)`` into the list of its ``T`` steps ``(batch, ...)``.

    One split, not ``inputs[:, t]`` per step: the gradient of ``T`` slices is
    ``T`` zero-padded tensors of the whole input's size, summed (quadratic in
    ``T`` on TensorFlow); that of a split is one concatenation.
    """
    return [ops.squeeze(x, 1) for x in ops.split(inputs, timesteps, axis=1)]


def fire(h, threshold, surrogate, inclusive):
    """``s = H(h - threshold)`` with the surrogate gradient of ``surrogate``."""
    return surrogate(h - threshold, inclusive=inclusive)


def reset_membrane(h, spike, reset, threshold, v_reset, detach):
    """Applies the reset after a spike.

    - ``"subtract"``: ``v = h - s * theta``
    - ``"zero"``: ``v = s * v_reset + (1 - s) * h``
    - ``"none"``: ``v = h``

    Args:
        h: membrane after charging.
        spike: 0/1 spikes of this step.
        reset: one of `RESETS`.
        threshold: firing threshold (float or scalar tensor).
        v_reset: hard-reset potential.
        detach: if True the reset carries no gradient through ``spike``.
    """
    if reset == "none":
        return h
    if detach:
        spike = ops.stop_gradient(spike)
    if reset == "subtract":
        return h - spike * threshold
    return spike * v_reset + (1.0 - spike) * h


def neuron_step(charge, x, v, *, threshold, surrogate, reset, v_reset,
                detach_reset, inclusive, reset_delay):
    """One time step of a neuron. Returns ``(spike, new_membrane)``.

    Args:
        charge: callable ``(v, x) -> h`` (the neuron's leak and integration).
        x: input current of this step, ``(batch, ...)``.
        v: membrane after the previous step.
        threshold: firing threshold (float or scalar tensor).
        surrogate: the `keras_snnkd.surrogates.Surrogate` used to fire.
        reset: one of `RESETS`.
        v_reset: hard-reset potential.
        detach_reset: if True the reset carries no gradient through the spike.
        inclusive: fire on ``h >= threshold`` instead of ``h > threshold``.
        reset_delay: False for charge-fire-reset in one step (SpikingJelly,
            this library's default); True for snnTorch's order, where the
            reset comes from the previous membrane (always detached) and the
            returned membrane is the one that was compared to the threshold.
    """
    if not reset_delay:
        h = charge(v, x)
        spike = fire(h, threshold, surrogate, inclusive)
        return spike, reset_membrane(h, spike, reset, threshold, v_reset, detach_reset)
    was_over = ops.stop_gradient(fire(v, threshold, surrogate, inclusive))
    if reset == "subtract":
        h = charge(v, x) - was_over * threshold
    elif reset == "zero":
        h = charge((1 - was_over) * v, x)
    else:
        h = charge(v, x)
    return fire(h, threshold, surrogate, inclusive), h
