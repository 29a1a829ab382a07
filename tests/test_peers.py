"""Peer presets reproduce snnTorch and SpikingJelly exactly; surrogates match theirs.

The peers run in PyTorch on the CPU; this library runs on the current Keras
backend (eagerly), on the same float32 inputs.
"""

import numpy as np
import pytest
from keras import ops

from keras_snnkd import surrogates
from keras_snnkd.backend import value_and_grad
from keras_snnkd.neurons import IF, LIF, ParametricLIF

from conftest import to_numpy

torch = pytest.importorskip("torch", reason="peer tests need PyTorch (test extra)")
snn = pytest.importorskip("snntorch", reason="peer tests need snntorch (test extra)")
sj_neuron = pytest.importorskip("spikingjelly.activation_based.neuron",
                                reason="peer tests need spikingjelly (install.sh test)")
sj_surrogate = pytest.importorskip("spikingjelly.activation_based.surrogate")

SEEDS = range(12)


def random_case(seed):
    rng = np.random.default_rng(seed)
    time = int(rng.integers(1, 16))
    shape = (int(rng.integers(1, 4)), time, *rng.integers(1, 9, size=rng.integers(1, 4)))
    x = (rng.normal(size=shape) * rng.uniform(0.3, 3.0)).astype("float32")
    return rng, x


def snntorch_leaky(x, **kwargs):
    leaky = snn.Leaky(**kwargs)
    mem = leaky.reset_mem()
    xt = torch.from_numpy(x)
    spikes, mems = [], []
    for t in range(x.shape[1]):
        s, mem = leaky(xt[:, t], mem)
        spikes.append(s)
        mems.append(mem)
    return (torch.stack(spikes, 1).detach().numpy(), torch.stack(mems, 1).detach().numpy())


def spikingjelly_multistep(node, x):
    node.step_mode = "m"
    node.store_v_seq = True
    spikes = node(torch.from_numpy(np.ascontiguousarray(x.swapaxes(0, 1))))
    return (spikes.transpose(0, 1).detach().numpy(),
            node.v_seq.transpose(0, 1).detach().numpy())


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("mechanism", ["subtract", "zero", "none"])
def test_lif_matches_snntorch_leaky(seed, mechanism):
    rng, x = random_case(seed)
    beta, threshold = float(rng.uniform(0, 1)), float(rng.uniform(0.1, 2))
    ref_s, ref_v = snntorch_leaky(x, beta=beta, threshold=threshold,
                                  reset_mechanism=mechanism)
    s, v = LIF.from_snntorch(beta, threshold, mechanism, return_membrane=True)(x)
    np.testing.assert_array_equal(to_numpy(s), ref_s)
    np.testing.assert_array_equal(to_numpy(v), ref_v)
    assert ref_s.sum() > 0, "the case must spike to test anything"


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("decay_input", [True, False])
@pytest.mark.parametrize("reset_kind", ["soft", "zero", "negative"])
def test_lif_matches_spikingjelly_lifnode(seed, decay_input, reset_kind):
    rng, x = random_case(seed)
    tau, threshold = float(rng.uniform(1.01, 20)), float(rng.uniform(0.1, 2))
    v_reset = {"soft": None, "zero": 0.0, "negative": -float(rng.uniform(0, 1))}[reset_kind]
    node = sj_neuron.LIFNode(tau=tau, decay_input=decay_input, v_threshold=threshold,
                             v_reset=v_reset)
    ref_s, ref_v = spikingjelly_multistep(node, x)
    s, v = LIF.from_spikingjelly(tau=tau, decay_input=decay_input, v_threshold=threshold,
                                 v_reset=v_reset, return_membrane=True)(x)
    np.testing.assert_array_equal(to_numpy(s), ref_s)
    np.testing.assert_array_equal(to_numpy(v), ref_v)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("v_reset", [None, 0.0, -0.5])
def test_if_matches_spikingjelly_ifnode(seed, v_reset):
    rng, x = random_case(seed)
    threshold = float(rng.uniform(0.1, 2))
    ref_s, ref_v = spikingjelly_multistep(
        sj_neuron.IFNode(v_threshold=threshold, v_reset=v_reset), x)
    s, v = IF.from_spikingjelly(v_threshold=threshold, v_reset=v_reset,
                                return_membrane=True)(x)
    np.testing.assert_array_equal(to_numpy(s), ref_s)
    np.testing.assert_array_equal(to_numpy(v), ref_v)


@pytest.mark.parametrize("seed", SEEDS[:4])
@pytest.mark.parametrize("decay_input", [True, False])
def test_parametric_lif_matches_spikingjelly(seed, decay_input):
    rng, x = random_case(seed)
    init_tau = float(rng.uniform(1.5, 10))
    ref_s, ref_v = spikingjelly_multistep(
        sj_neuron.ParametricLIFNode(init_tau=init_tau, decay_input=decay_input, v_reset=None), x)
    s, v = ParametricLIF.from_spikingjelly(init_tau=init_tau, decay_input=decay_input,
                                           v_reset=None, return_membrane=True)(x)
    # sigmoid(w) may differ by one ulp between PyTorch and the backend
    np.testing.assert_array_equal(to_numpy(s), ref_s)
    np.testing.assert_allclose(to_numpy(v), ref_v, rtol=1e-5, atol=1e-6)


def test_peers_differ_from_each_other_and_from_the_default():
    """The presets are not interchangeable: same inputs, different spike trains."""
    _, x = random_case(3)
    x = np.abs(x) + 0.5
    snntorch_s = to_numpy(LIF.from_snntorch(beta=0.5)(x))
    sj_s = to_numpy(LIF.from_spikingjelly(tau=2.0, decay_input=False, v_reset=None)(x))
    default_s = to_numpy(LIF(beta=0.5)(x))
    assert not np.array_equal(snntorch_s, default_s)
    np.testing.assert_array_equal(snntorch_s, snntorch_leaky(x, beta=0.5)[0])
    assert not np.array_equal(snntorch_s, sj_s)


# -- surrogate gradients against the peers' own autograd functions ------------

X = np.linspace(-2, 2, 401).astype("float32")


def peer_grad(spike_fn):
    x = torch.from_numpy(X.copy()).requires_grad_(True)
    spike_fn(x).sum().backward()
    return x.grad.numpy()


def our_grad(surrogate):
    return value_and_grad(lambda x: ops.sum(surrogate(x)), [X])[1][0]


PEERS = [
    ("arctan", 2.0, lambda a: snn.surrogate.atan(alpha=a)),
    ("arctan", 0.7, lambda a: snn.surrogate.atan(alpha=a)),
    ("arctan", 2.0, lambda a: sj_surrogate.ATan(alpha=a)),
    ("arctan", 5.0, lambda a: sj_surrogate.ATan(alpha=a)),
    ("sigmoid", 25.0, lambda a: snn.surrogate.sigmoid(slope=a)),
    ("sigmoid", 4.0, lambda a: sj_surrogate.Sigmoid(alpha=a)),
    ("sigmoid", 1.5, lambda a: sj_surrogate.Sigmoid(alpha=a)),
    ("fast_sigmoid", 25.0, lambda a: snn.surrogate.fast_sigmoid(slope=a)),
    ("fast_sigmoid", 3.0, lambda a: snn.surrogate.fast_sigmoid(slope=a)),
    ("triangle", 1.0, lambda a: sj_surrogate.PiecewiseQuadratic(alpha=a)),
    ("triangle", 2.5, lambda a: sj_surrogate.PiecewiseQuadratic(alpha=a)),
    ("straight_through", 1.0, lambda a: snn.surrogate.straight_through_estimator()),
]


@pytest.mark.parametrize("name, alpha, peer", PEERS,
                         ids=[f"{n}-{a}-{i}" for i, (n, a, _) in enumerate(PEERS)])
def test_surrogate_gradient_matches_peer(name, alpha, peer):
    ours = our_grad(surrogates.get(name, alpha=alpha))
    # same formula, evaluated in another order: equal up to float32 rounding
    np.testing.assert_allclose(ours, peer_grad(peer(alpha)), rtol=2e-5, atol=1e-6)


def test_fast_sigmoid_is_spikingjelly_softsign_rescaled():
    # SpikingJelly's SoftSign: g' = alpha / 2 / (1 + alpha |x|)^2
    alpha = 4.0
    ours = our_grad(surrogates.get("fast_sigmoid", alpha=alpha))
    np.testing.assert_allclose(ours * alpha / 2, peer_grad(sj_surrogate.SoftSign(alpha=alpha)),
                               rtol=2e-5, atol=1e-6)
