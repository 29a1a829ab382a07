"""keras_snnkd.cost.estimate: counts agree exactly with independent computations."""

import math
import warnings

import keras
import numpy as np
import pytest
from keras import ops

from keras_snnkd import cost, models, monitor
from keras_snnkd.cost.fanout import axis_fanout, fanout_map
from keras_snnkd.layers import RepeatEncoder, TimeFolded
from keras_snnkd.neurons import LIF

T = 3


def spikes(rng, shape, p=0.3):
    return (rng.random(shape) < p).astype("float32")


def spiking_model(layer, input_shape, pool=None):
    """Time-major spike input -> [TimeFolded(pool)] -> TimeFolded(layer) -> LIF."""
    stack = [keras.Input((T, *input_shape))]
    if pool is not None:
        stack.append(TimeFolded(pool))
    return keras.Sequential(stack + [TimeFolded(layer), LIF()])


def ones_kernel_acs(x, conv, groups=1):
    """Independent count: convolving the spikes with an all-ones kernel (one
    output channel per group) sums, over outputs, the spikes each output
    reads; times the output channels per group, that is sum_i s_i f_i. The
    backend's own convolution decides padding and strides."""
    channels = x.shape[-1]
    per_group = channels // groups
    total = 0.0
    for g in range(groups):
        part = x[..., g * per_group:(g + 1) * per_group]
        kernel = np.ones((*conv.kernel_size, per_group, 1), "float32")
        y = ops.conv(part, kernel, strides=conv.strides, padding=conv.padding,
                     dilation_rate=conv.dilation_rate)
        total += float(ops.sum(y))
    return total * (conv.filters // groups)


def dense_macs(conv, input_shape):
    out = conv.compute_output_shape((None, *input_shape))
    return math.prod(out[1:-1]) * math.prod(conv.kernel_size) * \
        (input_shape[-1] // conv.groups) * conv.filters


# -- fan-out geometry, by hand ------------------------------------------------
def test_axis_fanout_by_hand():
    # n=5, k=3, stride 2, same: 3 outputs, pad 1 before -> windows {-1,0,1}, {1,2,3}, {3,4,5}
    assert axis_fanout(5, 3, 2, padding="same").tolist() == [1, 2, 1, 2, 1]
    # n=6, k=3, stride 2, same: 3 outputs, total pad 1, all after -> {0,1,2}, {2,3,4}, {4,5,6}
    assert axis_fanout(6, 3, 2, padding="same").tolist() == [1, 1, 2, 1, 2, 1]
    # valid, stride 3, k=2: outputs read {0,1}, {3,4}; 2 and 5 are never read
    assert axis_fanout(6, 2, 3).tolist() == [1, 1, 0, 1, 1, 0]
    # dilation 2, k=3, valid: outputs read {0,2,4}, {1,3,5}
    assert axis_fanout(6, 3, 1, 2).tolist() == [1, 1, 1, 1, 1, 1]
    # causal, k=2, dilation 2: output t reads {t-2, t}
    assert axis_fanout(4, 2, 1, 2, "causal").tolist() == [2, 2, 1, 1]


def test_fanout_map_by_hand():
    expected = [[4, 6, 6, 4], [6, 9, 9, 6], [6, 9, 9, 6], [4, 6, 6, 4]]
    assert fanout_map((4, 4), (3, 3), (1, 1), (1, 1), "same").tolist() == expected


# -- exact counts against the backend's own convolution -----------------------
CONV2D_CASES = [
    dict(kernel_size=3, strides=1, padding="same"),
    dict(kernel_size=3, strides=2, padding="same"),
    dict(kernel_size=3, strides=2, padding="valid"),
    dict(kernel_size=4, strides=3, padding="same"),
    dict(kernel_size=(2, 3), strides=(2, 1), padding="valid"),
    dict(kernel_size=3, strides=1, padding="same", dilation_rate=2),
    dict(kernel_size=5, strides=2, padding="same", groups=2),
    dict(kernel_size=1, strides=1, padding="valid"),
]


def branches(layers, input_shape):
    """One model, one ``TimeFolded(layer) -> LIF`` branch per layer, fed the
    same time-major spikes (one compile for many cases)."""
    inputs = keras.Input((T, *input_shape))
    return keras.Model(inputs, [LIF()(TimeFolded(layer)(inputs)) for layer in layers])


def test_conv2d_acs_exact(rng):
    shape = (9, 8, 4)
    convs = [keras.layers.Conv2D(6, **case) for case in CONV2D_CASES]
    x = spikes(rng, (5, T, *shape))
    report = cost.estimate(branches(convs, shape), x, input_is_spikes=True)
    counted = [layer for layer in report.layers if layer["kind"] == "synaptic"]
    for case, conv, layer in zip(CONV2D_CASES, convs, counted):
        assert layer["input"] == "spikes" and layer["macs"] == 0, case
        expected = ones_kernel_acs(x.reshape(-1, *shape), conv, case.get("groups", 1))
        assert layer["acs"] * len(x) == expected, case
        assert layer["ann_macs"] == dense_macs(conv, shape), case
        out = conv.compute_output_shape((None, *shape))
        assert layer["adds"] == math.prod(out[1:]) * T, case  # a bias add per output and step
        assert layer["weight_reads"] == layer["acs"] + layer["adds"], case


def test_conv1d_acs_exact(rng):
    cases = [("causal", 1, 2), ("same", 2, 1), ("valid", 3, 1)]
    convs = [keras.layers.Conv1D(5, 3, strides=s, padding=p, dilation_rate=d)
             for p, s, d in cases]
    x = spikes(rng, (4, T, 11, 3))
    report = cost.estimate(branches(convs, (11, 3)), x, input_is_spikes=True)
    counted = [layer for layer in report.layers if layer["kind"] == "synaptic"]
    for (padding, _, dilation), conv, layer in zip(cases, convs, counted):
        folded = x.reshape(-1, 11, 3)
        if padding == "causal":  # the backend has no causal conv: pad by hand
            folded = np.pad(folded, ((0, 0), (dilation * (3 - 1), 0), (0, 0)))
            conv = keras.layers.Conv1D(5, 3, padding="valid", dilation_rate=dilation)
        assert layer["acs"] * len(x) == ones_kernel_acs(folded, conv), padding


def test_depthwise_conv_acs_exact(rng):
    conv = keras.layers.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2)
    model = spiking_model(conv, (7, 7, 3))
    x = spikes(rng, (4, T, 7, 7, 3))
    layer = cost.estimate(model, x, input_is_spikes=True).layers[0]
    folded = x.reshape(-1, 7, 7, 3)
    kernel = np.ones((3, 3, 3, 1), "float32")  # depthwise: every channel on its own
    expected = float(ops.sum(ops.depthwise_conv(folded, kernel, strides=2, padding="same")))
    assert layer["acs"] * len(x) == expected * 2
    assert layer["ann_macs"] == 4 * 4 * 9 * 3 * 2


def test_dense_acs_by_hand(rng):
    model = spiking_model(keras.layers.Dense(7), (12,))
    x = spikes(rng, (6, T, 12))
    layer = cost.estimate(model, x, input_is_spikes=True).layers[0]
    assert layer["acs"] * len(x) == x.sum() * 7  # every spike reaches all 7 units
    assert layer["ann_macs"] == 12 * 7 and layer["ann_adds"] == 7
    assert layer["adds"] == 7 * T


def test_conv_after_average_pooling_counts_pooled_spikes(rng):
    conv = keras.layers.Conv2D(5, 3, padding="same")
    model = spiking_model(conv, (8, 8, 2), pool=keras.layers.AveragePooling2D(2))
    x = spikes(rng, (4, T, 8, 8, 2))
    report = cost.estimate(model, x, input_is_spikes=True)
    pool, layer = report.layers[0], report.layers[1]
    sum_pooled = x.reshape(-1, 4, 2, 4, 2, 2).sum(axis=(2, 4))  # spikes per window
    assert layer["input"] == "spikes"
    assert layer["acs"] * len(x) == ones_kernel_acs(sum_pooled, conv)
    assert pool["adds"] * len(x) == x.sum()  # every spike is added into its window
    assert pool["ann_adds"] == 8 * 8 * 2


def test_partial_pool_windows_fall_back_to_analog(rng):
    model = spiking_model(keras.layers.Conv2D(4, 3), (5, 5, 2),
                          pool=keras.layers.AveragePooling2D(2, padding="same"))
    report = cost.estimate(model, spikes(rng, (2, T, 5, 5, 2)), input_is_spikes=True)
    layer = report.layers[1]
    assert layer["input"] == "analog" and layer["acs"] == 0
    assert layer["macs"] == layer["ann_macs"] * T


# -- whole models -------------------------------------------------------------
def test_reference_snn_first_layer_is_macs_once(rng):
    snn = models.reference_snn(timesteps=T, input_shape=(12, 12, 1))
    x = rng.random((4, 12, 12, 1)).astype("float32")
    report = cost.estimate(snn, x, ann=models.reference_ann(input_shape=(12, 12, 1)))
    by_name = {layer["name"]: layer for layer in report.layers}
    first = report.layers[0]
    assert first["input"] == "analog" and first["steps"] == 1 and first["acs"] == 0
    assert first["macs"] == 12 * 12 * 9 * 1 * 32 and first["adds"] == 12 * 12 * 32
    assert [l["input"] for l in report.layers if l["kind"] == "synaptic"][1:] == ["spikes"] * 3
    lif = by_name[monitor.spiking_layers(snn)[0].name]
    assert lif["neuron_updates"] == 12 * 12 * 32 * T
    assert lif["membrane_reads"] == lif["membrane_writes"] == lif["neuron_updates"]
    # the ANN twin of every layer is the reference ANN's own count
    assert report.reference.totals["macs"] == report.totals["ann_macs"]
    assert report.reference.totals["adds"] == report.totals["ann_adds"]
    assert report.reference_energy_pj == pytest.approx(report.totals["ann_energy_pj"])
    assert report.ratio == pytest.approx(report.energy_pj / report.reference_energy_pj)
    loihi = report.with_profile("loihi")  # a chip vs the teacher on CMOS
    assert loihi.reference.profile.name == "cmos45nm"
    assert loihi.reference_energy_pj == pytest.approx(report.reference_energy_pj)


def test_firing_rates_match_monitor(rng):
    snn = models.dense_snn(timesteps=T, input_shape=(8, 8, 1), hidden=(16, 8))
    x = rng.random((10, 8, 8, 1)).astype("float32")
    report = cost.estimate(snn, x)
    expected = monitor.firing_rates(snn, x)
    assert report.firing_rates == pytest.approx(expected, rel=1e-6)  # monitor: float32 mean
    # ACs of a Dense fed by a LIF are that LIF's spikes times the units
    lif = report.layers[3]
    assert report.layers[4]["acs"] == pytest.approx(lif["spikes"] * 8)


def test_counts_do_not_depend_on_batching(rng):
    snn = models.dense_snn(timesteps=T, input_shape=(8, 8, 1), hidden=(16,))
    x = rng.random((10, 8, 8, 1)).astype("float32")
    whole = cost.estimate(snn, x, batch_size=64).totals
    parts = cost.estimate(snn, [x[:3], (x[3:], np.zeros(7))]).totals
    assert cost.estimate(snn, x, batch_size=3).totals == pytest.approx(whole, rel=1e-12)
    assert parts == pytest.approx(whole, rel=1e-12)


def test_energy_is_counts_times_prices(rng):
    snn = models.dense_snn(timesteps=T, input_shape=(8, 8, 1), hidden=(16,))
    report = cost.estimate(snn, rng.random((4, 8, 8, 1)).astype("float32"),
                           profile="cmos45nm_sram")
    for layer in report.layers:
        expected = (layer["macs"] * 4.6 + (layer["acs"] + layer["adds"]) * 0.9
                    + layer["neuron_updates"] * 5.5
                    + 32 * 0.15625 * (layer["weight_reads"] + layer["membrane_reads"]
                                      + layer["membrane_writes"]))
        assert layer["energy_pj"] == pytest.approx(expected)
        assert layer["ann_energy_pj"] == pytest.approx(
            layer["ann_macs"] * 4.6 + layer["ann_adds"] * 0.9
            + 32 * 0.15625 * layer["ann_weight_reads"])


def test_event_input_counts_acs_in_first_layer(rng):
    model = keras.Sequential([keras.Input((T, 6)), TimeFolded(keras.layers.Dense(4)), LIF()])
    x = spikes(rng, (3, T, 6))
    layer = cost.estimate(model, x, input_is_spikes=True).layers[0]
    assert layer["acs"] * 3 == x.sum() * 4 and layer["macs"] == 0
    layer = cost.estimate(model, x).layers[0]  # default: the input is analog
    assert layer["macs"] == 6 * 4 * T and layer["acs"] == 0


# -- bad input ------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_snn():
    return models.dense_snn(timesteps=2, input_shape=(8, 8, 1), hidden=(8,))


def test_wrong_input_shape(small_snn):
    with pytest.raises(ValueError, match=r"`x` must have shape \(batch, 8, 8, 1\).*\(4, 8, 7, 1\)"):
        cost.estimate(small_snn, np.zeros((4, 8, 7, 1), "float32"))
    with pytest.raises(ValueError, match="batch axis"):
        cost.estimate(small_snn, np.zeros((8, 8, 1), "float32"))


def test_non_float_input(small_snn):
    with pytest.raises(TypeError, match="`x` must hold floating-point values.*int64"):
        cost.estimate(small_snn, np.zeros((2, 8, 8, 1), "int64"))


def test_unknown_profile_lists_known(small_snn):
    with pytest.raises(ValueError, match="Unknown energy profile 'tpu'.*cmos45nm.*loihi"):
        cost.estimate(small_snn, np.zeros((2, 8, 8, 1), "float32"), profile="tpu")


def test_model_without_spiking_layers_warns_and_counts_macs(rng):
    ann = models.reference_ann(input_shape=(8, 8, 1))
    with pytest.warns(UserWarning, match="no spiking layers.*MACs only"):
        report = cost.estimate(ann, rng.random((2, 8, 8, 1)).astype("float32"))
    assert report.totals["acs"] == 0 and report.totals["macs"] == report.totals["ann_macs"] > 0
    assert report.ratio == pytest.approx(1.0)
    assert "no spiking layers" in report.warnings[0]


def test_uncounted_weighted_layer_warns(rng):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(6), RepeatEncoder(2),
                              LIF(), TimeFolded(keras.layers.EinsumDense("ab,bc->ac", 3))])
    with pytest.warns(UserWarning, match="no counting rule"):
        cost.estimate(model, rng.random((2, 4)).astype("float32"))


def test_spike_input_must_be_binary(rng):
    model = keras.Sequential([keras.Input((T, 6)), TimeFolded(keras.layers.Dense(4)), LIF()])
    with pytest.raises(ValueError, match="input_is_spikes=True"):
        cost.estimate(model, rng.random((2, T, 6)).astype("float32"), input_is_spikes=True)


def test_shared_layer_and_unbuilt_model_rejected():
    dense = keras.layers.Dense(4)
    inp = keras.Input((4,))
    shared = keras.Model(inp, dense(dense(inp)))
    with pytest.raises(ValueError, match="called 2 times"):
        cost.estimate(shared, np.zeros((1, 4), "float32"))
    with pytest.raises(ValueError, match="no symbolic inputs"):
        cost.estimate(keras.Sequential([keras.layers.Dense(2)]), np.zeros((1, 4), "float32"))
    with pytest.raises(TypeError, match="`model` must be a keras.Model"):
        cost.estimate(dense, np.zeros((1, 4), "float32"))


def test_bad_arguments(small_snn):
    x = np.zeros((2, 8, 8, 1), "float32")
    with pytest.raises(ValueError, match="`batch_size` must be >= 1"):
        cost.estimate(small_snn, x, batch_size=0)
    with pytest.raises(ValueError, match="yielded no batch"):
        cost.estimate(small_snn, [])
    with pytest.raises(TypeError, match="`ann` must be a keras.Model"):
        cost.estimate(small_snn, x, ann="teacher")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # a clean SNN: no warning
        cost.estimate(small_snn, x)
