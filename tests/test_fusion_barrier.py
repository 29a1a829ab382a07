"""The membrane barrier of the unrolled neuron loop (keras_snnkd.backend.fusion_barrier)."""

import numpy as np
import pytest
from keras import ops

from conftest import BACKEND
from keras_snnkd.backend import fusion_barrier, value_and_grad
from keras_snnkd.neurons import LIF, base


def test_barrier_returns_the_membrane_bit_for_bit():
    # (no subnormals: TensorFlow's and JAX's CPU arithmetic flushes them to zero,
    # the loop's own multiply-adds included, so no membrane is ever subnormal)
    v = np.array([0.25, -1.5, 0.0, -0.0, np.inf, -np.inf, np.nan, 3e38, 2e-38], "float32")
    s = np.array([0, 1, 1, 0, 1, 0, 1, 0, 1], "float32")
    out = ops.convert_to_numpy(fusion_barrier(v, s))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.view(np.uint32), v.view(np.uint32))


def test_barrier_passes_the_gradient_to_the_membrane_only(rng):
    v = rng.normal(size=(4, 5)).astype("float32")
    s = (rng.random((4, 5)) > 0.5).astype("float32")
    w = rng.normal(size=(4, 5)).astype("float32")
    # (the second term keeps ``s`` connected, so every backend returns its gradient;
    # without the barrier's stop_gradient it would be -v * w where s = 1)
    _, (grad_v, grad_s) = value_and_grad(
        lambda v, s: ops.sum(ops.multiply(fusion_barrier(v, s), w)) + 0.0 * ops.sum(s), [v, s])
    np.testing.assert_array_equal(grad_v, w)
    np.testing.assert_array_equal(grad_s, np.zeros_like(s))


@pytest.mark.parametrize("layer", [
    LIF(beta=0.9, unroll=True, return_membrane=True),
    LIF(tau=2.0, reset="zero", unroll=True, return_membrane=True),
    LIF.from_snntorch(beta=0.8, return_membrane=True),
])
def test_neurons_are_unchanged_by_the_barrier(rng, monkeypatch, layer):
    # 13 steps: barriers after steps 4, 8 and 12
    x = rng.normal(0.6, 0.8, size=(3, 13, 6)).astype("float32")

    def loss(x):
        spikes, membrane = layer(x)
        return ops.sum(spikes * 1.5 + membrane)

    def spikes_membrane_and_gradient():
        spikes, membrane = layer(x)
        _, (grad,) = value_and_grad(loss, [x])
        return [ops.convert_to_numpy(spikes), ops.convert_to_numpy(membrane), grad]

    with_barrier = spikes_membrane_and_gradient()
    monkeypatch.setattr(base, "FUSION_BARRIER_EVERY", 10**6)
    without = spikes_membrane_and_gradient()
    np.testing.assert_array_equal(with_barrier[0], without[0])
    np.testing.assert_array_equal(with_barrier[1], without[1])
    # TensorFlow's gradient graph may add the membrane's cotangents in another
    # order around the barrier: equal up to float32 rounding
    np.testing.assert_allclose(with_barrier[2], without[2], rtol=1e-6, atol=1e-6)


def _compiled_size(layer, x):
    """Instructions in XLA's optimized program for the gradient of ``sum(layer(x))``."""
    if BACKEND == "jax":
        import jax

        grad = jax.jit(jax.grad(lambda x: jax.numpy.sum(layer(x) * 1.5)))
        hlo = grad.lower(x).compile().as_text()
    else:
        import tensorflow as tf

        @tf.function(jit_compile=True)
        def grad(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = tf.reduce_sum(layer(x) * 1.5)
            return tape.gradient(y, x)

        hlo = grad.experimental_get_compiler_ir(tf.constant(x))(stage="optimized_hlo")
    return sum(" = " in line for line in hlo.splitlines())


@pytest.mark.skipif(BACKEND == "torch", reason="XLA's fusion; TorchInductor's barrier is "
                                                "the identity")
def test_barrier_keeps_the_compiled_loop_linear_in_time(rng, monkeypatch):
    # Without the barrier XLA recomputes the membrane chain in every step's
    # fusion once T > 8: the compiled program grows with T^2.
    def growth():
        x16, x32 = (rng.normal(1.0, 1.0, size=(2, t, 8, 8, 4)).astype("float32")
                    for t in (16, 32))
        return _compiled_size(LIF(), x32) / _compiled_size(LIF(), x16)

    assert growth() < 2.5
    monkeypatch.setattr(base, "FUSION_BARRIER_EVERY", 10**6)
    assert growth() > 3.0
