"""A fusion barrier for unrolled neuron loops compiled by XLA (TensorFlow, JAX).

XLA fuses a cheap elementwise producer into each of its consumers, computing
it again in every one; only producers it deems expensive (a division, an
exponential...) are computed once and read. An unrolled neuron loop is a chain
of cheap operations: the membrane ``v_t`` feeds the next step, the spike of
step ``t`` and, in the backward pass, the surrogate gradients of all later
steps. Up to ``T`` = 8 XLA:CPU compiles the whole loop into one fusion; beyond
that (it materialises concatenations of more than 8 operands separately) every
step becomes its own fusion, and each of them recomputes the membrane chain
from the input. The gradient of a lone LIF layer on ``(64, T, 28, 28, 32)``
then cost 1.8e8 flops at ``T`` = 8, 2.25e9 at 16 and 9.0e9 at 32 (JAX's
``cost_analysis``): quadratic in ``T``.

`fusion_barrier` divides the membrane by ``max(spike, 1)``: exactly 1, since a
spike is 0 or 1, but a value XLA cannot fold, and a division, which XLA does
not duplicate. The membrane after the barrier is computed once; the chain stops
there. Dividing by 1 is exact in IEEE arithmetic (signed zeros, infinities and
NaN included), so the loop's values are unchanged bit for bit, and so is the
gradient through the barrier; a neuron's input gradient may differ in the last
bit, where the autodiff sums the membrane's cotangents in another order. (Subnormals
would flush to zero, but TensorFlow's and JAX's CPU arithmetic flushes them in
the loop's own operations already, so no membrane reaching the barrier is one.)
"""

from keras import ops


def fusion_barrier(membrane, spikes):
    """Returns ``membrane`` unchanged, as a value XLA computes once.

    Args:
        membrane: the membrane potential after a time step.
        spikes: that step's 0/1 spikes, same shape (any float dtype: under
            mixed precision the spikes are bfloat16 and the membrane float32).

    Returns:
        ``membrane / max(spikes, 1)``, equal to ``membrane``; no gradient
        flows to ``spikes``.
    """
    spikes = ops.cast(ops.stop_gradient(spikes), membrane.dtype)
    return membrane / ops.maximum(spikes, 1.0)


def reused_region(fn):
    """``fn`` itself: XLA compiles a traced step as one program, with no nested
    regions; `fusion_barrier` keeps an unrolled loop's cost linear in ``T``."""
    return fn
