"""Neuron dynamics against an independent NumPy implementation of the equations."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_snnkd.backend import value_and_grad
from keras_snnkd.neurons import IF, LIF, ParametricLIF

from conftest import to_numpy


def numpy_neuron(x, charge, threshold=1.0, reset="subtract", v_reset=0.0,
                 inclusive=False, v0=0.0):
    """Reference: h = charge(v, x); s = H(h - thr); reset. Returns (spikes, v)."""
    v = np.full(x[:, 0].shape, v0, "float64")
    spikes, membrane = [], []
    for t in range(x.shape[1]):
        h = charge(v, x[:, t].astype("float64"))
        s = (h >= threshold) if inclusive else (h > threshold)
        s = s.astype("float64")
        if reset == "subtract":
            v = h - s * threshold
        elif reset == "zero":
            v = np.where(s > 0, v_reset, h)
        else:
            v = h
        spikes.append(s)
        membrane.append(v)
    return np.stack(spikes, 1), np.stack(membrane, 1)


def run(layer, x):
    out = layer(x)
    if isinstance(out, tuple):
        return tuple(to_numpy(o) for o in out)
    return to_numpy(out)


@pytest.fixture
def currents(rng):
    return rng.uniform(-0.5, 1.5, size=(3, 12, 7)).astype("float32")


@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
def test_if_dynamics(currents, reset):
    s, v = run(IF(reset=reset, return_membrane=True), currents)
    ref_s, ref_v = numpy_neuron(currents, lambda v, x: v + x, reset=reset)
    np.testing.assert_array_equal(s, ref_s)
    np.testing.assert_allclose(v, ref_v, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("decay_input", [False, True])
@pytest.mark.parametrize("reset, v_reset", [("subtract", 0.0), ("zero", 0.0), ("zero", -0.3)])
def test_lif_beta_form(currents, decay_input, reset, v_reset):
    beta, rest = 0.8, (v_reset if reset == "zero" else 0.0)
    layer = LIF(beta=beta, decay_input=decay_input, reset=reset, v_reset=v_reset,
                threshold=0.7, return_membrane=True)
    scale = (1 - beta) if decay_input else 1.0
    s, v = run(layer, currents)
    ref_s, ref_v = numpy_neuron(currents, lambda v, x: rest + beta * (v - rest) + scale * x,
                                threshold=0.7, reset=reset, v_reset=v_reset, v0=rest)
    np.testing.assert_array_equal(s, ref_s)
    np.testing.assert_allclose(v, ref_v, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("decay_input", [False, True])
def test_lif_tau_form(currents, decay_input):
    tau = 4.0
    layer = LIF(tau=tau, decay_input=decay_input, return_membrane=True)
    if decay_input:
        charge = lambda v, x: v + (x - v) / tau
    else:
        charge = lambda v, x: v - v / tau + x
    s, v = run(layer, currents)
    ref_s, ref_v = numpy_neuron(currents, charge)
    np.testing.assert_array_equal(s, ref_s)
    np.testing.assert_allclose(v, ref_v, rtol=1e-5, atol=1e-5)
    assert layer.decay == pytest.approx(0.75)


def test_threshold_inclusive_fires_at_equality():
    x = np.array([[[0.5], [0.5], [1.0]]], "float32")
    assert run(IF(), x)[0, :, 0].tolist() == [0, 0, 1]
    assert run(IF(threshold_inclusive=True), x)[0, :, 0].tolist() == [0, 1, 1]


def test_snntorch_reset_delay_order():
    # snnTorch: U_t = beta*U_{t-1} + X_t - H(U_{t-1} - thr)*thr; S_t = H(U_t - thr):
    # the reset is not decayed by beta.
    x = np.array([[[1.2], [0.95]]], "float32")
    s, v = run(LIF.from_snntorch(beta=0.5, threshold=1.0, return_membrane=True), x)
    assert s[0, :, 0].tolist() == [1, 0]
    np.testing.assert_allclose(v[0, :, 0], [1.2, 0.55], atol=1e-6)
    # this library's default resets in the same step, so the reset decays too
    s, v = run(LIF(beta=0.5, return_membrane=True), x)
    assert s[0, :, 0].tolist() == [1, 1]
    np.testing.assert_allclose(v[0, :, 0], [0.2, 0.05], atol=1e-6)


def test_parametric_lif_dynamics_and_learns_tau(currents):
    layer = ParametricLIF(init_tau=3.0, return_membrane=True)
    s, v = run(layer, currents)
    ref_s, ref_v = numpy_neuron(currents, lambda v, x: v + (x - v) / 3.0)
    np.testing.assert_array_equal(s, ref_s)
    np.testing.assert_allclose(v, ref_v, rtol=1e-5, atol=1e-5)
    assert float(to_numpy(layer.tau)) == pytest.approx(3.0)
    assert [w.name for w in layer.trainable_weights] == ["w"]


def test_parametric_lif_time_constant_is_trained_by_fit(rng):
    x = rng.uniform(0, 0.6, size=(64, 8, 4)).astype("float32")
    layer = ParametricLIF(init_tau=2.0, decay_input=False, surrogate="sigmoid")
    model = keras.Sequential([keras.Input((8, 4)), layer])
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    model.fit(x, np.ones((64, 8, 4), "float32"), epochs=3, verbose=0)
    # more spikes lower the loss, and a slower leak (larger tau) gives more
    assert float(to_numpy(layer.tau)) > 2.0


def test_unrolled_and_scanned_loops_agree(currents):
    for cls in (IF, LIF, ParametricLIF):
        a = run(cls(return_membrane=True, unroll=True), currents)
        b = run(cls(return_membrane=True, unroll=False), currents)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_allclose(a[1], b[1], rtol=1e-6, atol=1e-6)


def test_no_state_survives_between_calls(currents):
    layer = LIF()
    first = run(layer, currents)
    run(layer, currents * 3)
    np.testing.assert_array_equal(run(layer, currents), first)
    # each sample is independent of the rest of the batch
    np.testing.assert_array_equal(run(layer, currents[1:2]), first[1:2])


def test_any_feature_rank_and_spikes_are_binary(rng):
    for shape in [(2, 3, 5), (2, 3, 4, 4, 2), (1, 1, 6, 1)]:
        x = rng.normal(size=shape).astype("float32") * 2
        out = run(LIF(), x)
        assert out.shape == shape and out.dtype == np.float32
        assert set(np.unique(out)) <= {0.0, 1.0}


def gradient_wrt_input(layer, x, upstream):
    return value_and_grad(lambda x: ops.sum(ops.multiply(layer(x), upstream)), [x])[1][0]


def test_surrogate_gradient_flows_through_time(currents, rng):
    upstream = np.zeros(currents.shape, "float32")
    upstream[:, -1] = 1.0  # only the last step's spikes matter
    grad = gradient_wrt_input(LIF(beta=0.9, surrogate="sigmoid"), currents, upstream)
    assert np.all(np.abs(grad[:, 0]) > 0), "earlier inputs must get gradient via the membrane"
    # with a detached reset the gradient differs (no path through the reset)
    grad_detached = gradient_wrt_input(LIF(beta=0.9, surrogate="sigmoid", detach_reset=True),
                                       currents, upstream)
    assert not np.allclose(grad, grad_detached)


def test_single_step_gradient_is_surrogate_derivative():
    x = np.array([[[0.3], [0.0]], [[1.4], [0.0]]], "float32")
    upstream = np.array([[[1.0], [0.0]], [[1.0], [0.0]]], "float32")
    layer = LIF(beta=0.9, threshold=1.0, surrogate="arctan")
    grad = gradient_wrt_input(layer, x, upstream)
    d = lambda u: 1.0 / (1 + (np.pi * u) ** 2)  # arctan, alpha=2
    np.testing.assert_allclose(grad[:, 0, 0], [d(0.3 - 1.0), d(1.4 - 1.0)], rtol=1e-5)


def test_trainable_threshold_is_a_weight_used_by_the_layer(currents):
    layer = LIF(trainable_threshold=True, threshold=0.8)
    layer.build(currents.shape)
    assert [w.name for w in layer.trainable_weights] == ["threshold"]
    assert float(to_numpy(layer.threshold_weight)) == pytest.approx(0.8)
    before = run(layer, currents)
    layer.threshold_weight.assign(0.3)
    assert run(layer, currents).sum() > before.sum()


def test_trainable_threshold_is_trained_by_fit(rng):
    x = rng.uniform(0, 1, size=(64, 6, 4)).astype("float32")
    model = keras.Sequential([keras.Input((6, 4)), LIF(trainable_threshold=True)])
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    model.fit(x, np.zeros((64, 6, 4), "float32"), epochs=3, verbose=0)
    # firing costs loss, so training must push the threshold up
    assert float(to_numpy(model.layers[0].threshold_weight)) > 1.0


def test_mixed_precision_runs_in_float16(currents):
    layer = LIF(dtype="mixed_float16")
    out = layer(currents)
    assert keras.backend.standardize_dtype(out.dtype) == "float16"
    np.testing.assert_array_equal(to_numpy(out), run(LIF(), currents))


def test_return_membrane_in_a_functional_model(currents):
    inputs = keras.Input(currents.shape[1:])
    spikes, membrane = LIF(return_membrane=True)(inputs)
    model = keras.Model(inputs, [spikes, membrane])
    s, v = model.predict(currents, verbose=0)
    ref_s, ref_v = run(LIF(return_membrane=True), currents)
    np.testing.assert_array_equal(s, ref_s)
    # compiled prediction may fuse multiply-adds: equal up to rounding
    np.testing.assert_allclose(v, ref_v, rtol=1e-5, atol=1e-6)


def test_config_round_trip():
    for layer in [IF(threshold=0.5, reset="zero", v_reset=-0.2, surrogate="triangle"),
                  LIF(tau=5.0, decay_input=True, trainable_threshold=True, detach_reset=True),
                  LIF.from_snntorch(beta=0.7, reset_mechanism="zero"),
                  ParametricLIF(init_tau=4.0, decay_input=False, unroll=False)]:
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
        assert clone.surrogate == layer.surrogate



@pytest.mark.parametrize("unroll, timesteps, unrolled", [
    (None, 2, True), (None, 32, True), (None, None, False),
    (True, 32, True), (False, 2, False),
])
def test_loop_unrolls_static_time_and_scans_unknown_time(unroll, timesteps, unrolled):
    assert LIF(unroll=unroll).unrolls(timesteps) is unrolled


@pytest.mark.skipif(keras.backend.backend() == "torch",
                    reason="torch.compile of a training step takes about a minute; "
                           "benchmarks/throughput.py trains compiled on PyTorch")
@pytest.mark.parametrize("unroll", [True, False])
def test_both_loops_train_under_xla(rng, unroll):
    # Keras's own TensorFlow scan cannot be differentiated under XLA (no
    # maximum_iterations); keras_snnkd.backend.scan can.
    model = keras.Sequential([keras.Input((6, 4)), LIF(beta=0.9, unroll=unroll),
                              keras.layers.Flatten(), keras.layers.Dense(2)])
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=True)
    x = rng.normal(1.0, 1.0, size=(8, 6, 4)).astype("float32")
    before = [to_numpy(w) for w in model.trainable_weights]
    loss = model.train_on_batch(x, np.arange(8) % 2)
    assert np.isfinite(loss)
    after = [to_numpy(w) for w in model.trainable_weights]
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))


@pytest.mark.skipif(keras.backend.backend() != "torch",
                    reason="graph breaks are a torch.compile notion (XLA traces whole "
                           "functions or fails, which test_both_loops_train_under_xla covers)")
@pytest.mark.parametrize("layer", [LIF(beta=0.9), IF(), ParametricLIF()])
def test_neuron_call_traces_into_one_torch_graph(rng, layer):
    # A graph break inside a neuron layer (an import, a NumPy value, ...) splits
    # torch.compile's training step at every spiking layer and runs them eagerly.
    import torch

    # 9 steps: the loop passes through backend.fusion_barrier after steps 4 and 8
    x = ops.convert_to_tensor(rng.normal(1.0, 1.0, size=(2, 9, 3)).astype("float32"))
    layer(x)  # builds outside the trace, as Model.fit does
    explained = torch._dynamo.explain(layer)(x)
    assert explained.graph_break_count == 0, explained.break_reasons
    assert explained.graph_count == 1


def _gradient_ops(layer, x):
    """The operations in the traced gradient of ``sum(layer(x))`` w.r.t. ``x``."""
    if keras.backend.backend() == "jax":
        import jax

        jaxpr = jax.make_jaxpr(jax.grad(lambda x: jax.numpy.sum(layer(x))))(x)
        return {eqn.primitive.name for eqn in jaxpr.eqns}
    import tensorflow as tf

    @tf.function
    def grad(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(layer(x))
        return tape.gradient(y, x)

    x = tf.constant(x)
    return {op.type for op in grad.get_concrete_function(x).graph.get_operations()}


@pytest.mark.skipif(keras.backend.backend() == "torch",
                    reason="reads TensorFlow's gradient graph or JAX's jaxpr; PyTorch's "
                           "gradient of a split is a concatenation too")
def test_unrolled_loop_gradient_has_no_per_step_slice_gradients(rng):
    # The gradient of inputs[:, t] is a zero tensor of the whole input's size with
    # step t filled in (TensorFlow: StridedSliceGrad; JAX: pad): T of them, summed,
    # made the unrolled TensorFlow step grow as T^2. A split's gradient is one
    # concatenation.
    layer = LIF(beta=0.9, unroll=True)
    x = rng.normal(1.0, 1.0, size=(2, 8, 3)).astype("float32")
    layer(x)
    used = _gradient_ops(layer, x)
    assert not used & {"StridedSliceGrad", "pad"}, used
    assert used & {"ConcatV2", "concatenate"}, used
