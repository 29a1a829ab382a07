"""Per-layer operation counts from probed activations, per inference.

All counts are totals over the probed batch; `estimate` divides them by the
number of samples. Notation: ``s_i`` is the number of spikes that reach
input element ``i`` (its value times the spike scale), ``f_i`` its fan-out
(output units, or output positions times output channels per group, that its
weights reach):

- synaptic layer, spiking input: ``ACs = sum_i s_i * f_i`` (exact: padding
  and strides enter through ``f_i``);
- synaptic layer, analog input: ``MACs = sum over outputs of kernel taps x
  input channels per group`` (the dense count, taps on padding included);
- bias: one add per output element per step;
- average pooling: one add per (input spike or value, window) pair;
- neuron layer: one state update per neuron per step, each reading and
  writing its membrane once.
"""

import math

import numpy as np

from keras_snnkd.cost import graph
from keras_snnkd.cost.fanout import fanout_map, output_length

ZERO = dict(macs=0.0, acs=0.0, adds=0.0, neuron_updates=0.0, spikes=0.0,
            weight_reads=0.0, membrane_reads=0.0, membrane_writes=0.0,
            ann_macs=0.0, ann_adds=0.0, ann_weight_reads=0.0)


def _channel_axis(core):
    return -1 if getattr(core, "data_format", "channels_last") == "channels_last" else 1


def _synaptic_geometry(core, shape):
    """For a (folded) input shape ``(n, ...)``: per-position fan-out (array
    over the spatial dims, or a scalar), fan-out multiplier per input
    channel, dense MACs and output elements per folded sample."""
    if isinstance(core, graph.L.Dense):
        rows = math.prod(shape[1:-1])
        return 1, core.units, rows * shape[-1] * core.units, rows * core.units
    spatial = graph.spatial_shape(core, shape)
    channels = shape[_channel_axis(core)]
    dims = len(spatial)
    dilation = getattr(core, "dilation_rate", (1,) * dims)
    fan = fanout_map(spatial, core.kernel_size, core.strides, dilation, core.padding)
    positions = math.prod(
        output_length(n, k, s, d, core.padding)
        for n, k, s, d in zip(spatial, core.kernel_size, core.strides, dilation)
    )
    taps = math.prod(core.kernel_size)
    if isinstance(core, (graph.L.DepthwiseConv1D, graph.L.DepthwiseConv2D)):
        per_channel = core.depth_multiplier
        outputs = channels * per_channel
        macs = positions * taps * channels * per_channel
    else:
        per_channel = core.filters // core.groups
        outputs = core.filters
        macs = positions * taps * (channels // core.groups) * core.filters
    return fan, per_channel, macs, positions * outputs


def _spatial_sum(core, values):
    """Sums a folded ``(n, ...)`` array over batch and channels, keeping space."""
    axis = _channel_axis(core) % values.ndim
    return values.sum(axis=(0, axis))


def spike_counts(x, scale):
    """``x * scale`` rounded to integers, or None when that is not a count
    (non-integer or negative values: the input is then treated as analog)."""
    counts = np.asarray(x, np.float64) * scale
    rounded = np.rint(counts)
    if counts.size and (np.abs(counts - rounded).max() > 1e-3 or rounded.min() < 0):
        return None
    return rounded


def synaptic(layer, x, counts):
    """Counts of a Dense/Conv layer (optionally `TimeFolded`) on input ``x``;
    ``counts`` are the input spike counts, or None for analog input."""
    core = graph.inner(layer)
    folded = x.reshape(-1, *x.shape[2:]) if isinstance(layer, graph.TimeFolded) else x
    counts = None if counts is None else counts.reshape(folded.shape)
    fan, per_channel, dense_macs, outputs = _synaptic_geometry(core, folded.shape)
    n = folded.shape[0]
    result = dict(ZERO)
    if counts is None:
        result["macs"] = float(dense_macs * n)
    elif isinstance(core, graph.L.Dense):
        result["acs"] = float(counts.sum() * per_channel)
    else:
        result["acs"] = float((_spatial_sum(core, counts) * fan).sum() * per_channel)
    if core.use_bias:
        result["adds"] = float(outputs * n)
    result["weight_reads"] = result["macs"] + result["acs"] + result["adds"]
    result["ann_macs"] = float(dense_macs * n)
    result["ann_adds"] = float(outputs * n) if core.use_bias else 0.0
    result["ann_weight_reads"] = result["ann_macs"] + result["ann_adds"]
    return result


def pooling(layer, x, counts):
    """Counts of an average pooling (optionally `TimeFolded`): one add per
    (element, window) pair, for spikes only where a spike is."""
    core = graph.inner(layer)
    folded = x.reshape(-1, *x.shape[2:]) if isinstance(layer, graph.TimeFolded) else x
    spatial = graph.spatial_shape(core, folded.shape)
    if isinstance(core, graph.GLOBAL_AVERAGE_POOLS):
        fan = np.ones(spatial, np.int64)
    else:
        fan = fanout_map(spatial, core.pool_size, core.strides, (1,) * len(spatial),
                         core.padding)
    channels = folded.shape[_channel_axis(core)]
    dense_adds = float(fan.sum() * channels * folded.shape[0])
    result = dict(ZERO)
    if counts is None:
        result["adds"] = dense_adds
    else:
        counts = counts.reshape(folded.shape)
        result["adds"] = float((_spatial_sum(core, counts) * fan).sum())
    result["ann_adds"] = dense_adds
    return result


def as_analog(counts):
    """The counts of a synaptic or pooling layer had its input been analog:
    its dense MACs (or adds) at every step instead of spike-triggered ones.
    Analog counts depend on shapes only, so they equal the twin's per step."""
    result = dict(counts)
    if counts["ann_macs"]:  # synaptic: bias adds stay, ACs become MACs
        result.update(macs=counts["ann_macs"], acs=0.0,
                      weight_reads=counts["ann_macs"] + counts["adds"])
    else:  # pooling
        result["adds"] = counts["ann_adds"]
    return result


def neuron(spikes):
    """Counts of a spiking neuron layer from its spikes ``(batch, T, ...)``."""
    result = dict(ZERO)
    updates = float(spikes.size)
    result.update(neuron_updates=updates, membrane_reads=updates,
                  membrane_writes=updates, spikes=float(spikes.sum()))
    return result
