"""NIR export: snnTorch's NIR importer reproduces the Keras spike trains (any backend)."""

import keras
import numpy as np
import pytest

from keras_snnkd.export import to_nir
from keras_snnkd.layers import MeanOverTime, RepeatEncoder, TimeFolded as F
from keras_snnkd.neurons import IF, LIF

nir = pytest.importorskip("nir", reason="NIR export needs `nir` ('keras_snnkd[export]')")
pytest.importorskip("nirtorch", reason="snnTorch's NIR importer needs `nirtorch`")
torch = pytest.importorskip("torch", reason="the snnTorch round trip needs torch")
snntorch = pytest.importorskip("snntorch", reason="the round trip needs snnTorch")
snntorch_utils = pytest.importorskip("snntorch.utils")
L = keras.layers
T = 6


def _hard_reset_net():
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        L.Conv2D(4, 3, padding="same", name="conv1"), RepeatEncoder(T),
        LIF(beta=0.9, reset="zero", name="lif1"),
        F(L.AveragePooling2D(2, name="pool")), F(L.Flatten(name="flat")),
        F(L.Dense(20, name="fc1")),
        LIF(beta=0.8, reset="zero", decay_input=True, threshold=0.3, name="lif2"),
        F(L.Dense(5, name="fc2")), MeanOverTime(),
    ])


def test_lif_parameters():
    graph = to_nir(_hard_reset_net(), dt=1e-3)
    lif1, lif2 = graph.nodes["lif1"], graph.nodes["lif2"]
    assert lif1.tau.shape == (4, 8, 8)  # channels-first, like NIR's Conv2d
    np.testing.assert_allclose(lif1.tau, 1e-3 / 0.1, rtol=1e-6)
    np.testing.assert_allclose(lif1.r, 10.0, rtol=1e-6)  # r * dt / tau = 1: input unscaled
    np.testing.assert_allclose(lif2.r * 1e-3 / lif2.tau, 0.2, rtol=1e-5)  # decay_input: 1 - beta
    np.testing.assert_allclose(lif2.v_threshold, 0.3)
    assert graph.nodes["conv1"].weight.shape == (4, 1, 3, 3)
    assert graph.metadata["readout"] == "mean" and graph.metadata["timesteps"] == T
    integrator = keras.Sequential([keras.Input((3,)), L.Dense(2), RepeatEncoder(2),
                                   IF(reset="zero", name="if1"), MeanOverTime()])
    assert isinstance(to_nir(integrator).nodes["if1"], nir.IF)


def test_snntorch_import_reproduces_spike_trains():
    from snntorch.import_nir import import_from_nir

    model = _hard_reset_net()
    rng = np.random.default_rng(0)  # the same weights on every backend
    model.set_weights([rng.normal(0.0, 0.6, w.shape).astype("float32")
                       for w in model.get_weights()])
    x = rng.random((4, 8, 8, 1)).astype("float32") * 3
    names = ["lif1", "lif2"]
    probe = keras.Model(model.inputs, [model.get_layer(n).output for n in names])
    expected = [keras.ops.convert_to_numpy(s) for s in probe(x)]
    assert 0.02 < expected[0].mean() < 0.9 and 0.02 < expected[1].mean() < 0.9

    net = import_from_nir(to_nir(model))
    recorded = {name: [] for name in names}
    for name, module in net.named_modules():
        if isinstance(module, snntorch.Leaky):
            key = next(n for n in names if n in name)
            module.register_forward_hook(lambda m, i, out, key=key: recorded[key].append(out))
    # NIR types have no batch axis (nir.Flatten(start_dim=0) flattens a whole
    # sample) and nirtorch passes start_dim to torch.nn.Flatten as is, so the
    # imported module runs one unbatched sample at a time.
    for i, sample in enumerate(x):
        snntorch_utils.reset(net)
        for key in recorded:
            recorded[key].clear()
        inputs = torch.from_numpy(sample.transpose(2, 0, 1).copy())
        with torch.no_grad():
            for _ in range(T):
                net(inputs)
        got = np.stack([s.numpy() for s in recorded["lif1"]]).transpose(0, 2, 3, 1)
        np.testing.assert_array_equal(got, expected[0][i])
        np.testing.assert_array_equal(np.stack([s.numpy() for s in recorded["lif2"]]),
                                      expected[1][i])


@pytest.mark.parametrize("neuron, match", [
    (LIF(), "reset='subtract'"),
    (LIF.from_spikingjelly(v_reset=0.0), "threshold_inclusive=True"),
    (IF(reset="zero", initial_membrane=0.5), "initial membrane"),
])
def test_neurons_without_an_exact_nir_form_are_rejected(neuron, match):
    model = keras.Sequential([keras.Input((3,)), L.Dense(2), RepeatEncoder(2), neuron,
                              MeanOverTime()])
    with pytest.raises(ValueError, match=match):
        to_nir(model)
