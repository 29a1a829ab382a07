"""What the cost estimator needs to know about a model's graph: the role of
each top-level layer, what feeds it, whether a tensor carries spikes, and
whether it has a time axis."""

import math

import keras

from keras_snnkd.cost.fanout import padding_amount
from keras_snnkd.layers import (
    LastMembrane,
    LatencyEncoder,
    MeanOverTime,
    PoissonEncoder,
    RepeatEncoder,
    SpikeCount,
    TimeFolded,
)
from keras_snnkd.neurons import SpikingNeuron

L = keras.layers
SYNAPTIC = (L.Dense, L.Conv1D, L.Conv2D, L.Conv3D, L.DepthwiseConv1D, L.DepthwiseConv2D)
AVERAGE_POOLS = (L.AveragePooling1D, L.AveragePooling2D, L.AveragePooling3D)
GLOBAL_AVERAGE_POOLS = (L.GlobalAveragePooling1D, L.GlobalAveragePooling2D,
                        L.GlobalAveragePooling3D)
# Layers whose outputs are (copies, selections, zero paddings or maxima of)
# their inputs: spike counts stay spike counts.
COUNT_PRESERVING = (
    L.Flatten, L.Reshape, L.Permute, L.Dropout, L.SpatialDropout1D, L.SpatialDropout2D,
    L.SpatialDropout3D, L.ZeroPadding1D, L.ZeroPadding2D, L.ZeroPadding3D, L.Cropping1D,
    L.Cropping2D, L.Cropping3D, L.MaxPooling1D, L.MaxPooling2D, L.MaxPooling3D,
    L.GlobalMaxPooling1D, L.GlobalMaxPooling2D, L.GlobalMaxPooling3D, L.UpSampling1D,
    L.UpSampling2D, L.UpSampling3D, L.Identity,
)
# Weighted layers that inference folds into a neighbouring layer: no ops, no warning.
FOLDABLE = (L.BatchNormalization,)
SPIKE_ENCODERS = (PoissonEncoder, LatencyEncoder)
ENCODERS = (RepeatEncoder, *SPIKE_ENCODERS)
READOUTS = (MeanOverTime, SpikeCount, LastMembrane)


def inner(layer):
    """The layer a `TimeFolded` wraps, or the layer itself."""
    return layer.layer if isinstance(layer, TimeFolded) else layer


def type_name(layer):
    """``"Conv2D"``, or ``"TimeFolded(Conv2D)"`` for a wrapped layer."""
    name = type(layer).__name__
    return f"{name}({type(layer.layer).__name__})" if isinstance(layer, TimeFolded) else name


def kind(layer):
    """``"synaptic"``, ``"neuron"``, ``"pool"`` (average pooling) or ``"other"``."""
    if isinstance(layer, SpikingNeuron):
        return "neuron"
    core = inner(layer)
    if isinstance(core, SYNAPTIC):
        return "synaptic"
    if isinstance(core, AVERAGE_POOLS + GLOBAL_AVERAGE_POOLS):
        return "pool"
    return "other"


def input_tensors(layer):
    """The symbolic tensors a top-level layer is called on (it must be called once)."""
    nodes = layer._inbound_nodes
    if len(nodes) != 1:
        raise ValueError(
            f"estimate: layer {layer.name!r} is called {len(nodes)} times in the model; "
            "the cost estimator counts models whose layers are each called once."
        )
    return list(nodes[0].input_tensors)


def _producer(tensor):
    history = getattr(tensor, "_keras_history", None)
    if history is None:
        return None, 0
    return history.operation, history.tensor_index


def spatial_shape(core, shape):
    """Spatial dims of a (folded) per-sample input shape ``(..., features)``."""
    fmt = getattr(core, "data_format", "channels_last")
    return tuple(shape[1:-1]) if fmt == "channels_last" else tuple(shape[2:])


def _folded_shape(layer, shape):
    return (shape[0], *shape[2:]) if isinstance(layer, TimeFolded) else tuple(shape)


class GraphInfo:
    """Answers, for the symbolic tensors of ``model``: does it carry spikes,
    and with which multiplicity (`spike_scale`); does it have a time axis
    (`has_time`).

    Args:
        model: a built functional or Sequential model.
        input_is_spikes: whether the model's inputs are spike trains.
        input_has_time: whether the model's inputs are time-major.
        timesteps: the model's number of time steps ``T``.
    """

    def __init__(self, model, input_is_spikes, input_has_time, timesteps):
        self.model = model
        self.input_is_spikes = input_is_spikes
        self.input_has_time = input_has_time
        self.timesteps = timesteps
        self._scales = {}
        self._times = {}

    def spike_scale(self, tensor):
        """None when ``tensor`` is analog; else ``c`` such that ``tensor * c``
        is the number of spikes summed into each element (1 for spikes, the
        window area after an average pooling of spikes)."""
        key = id(tensor)
        if key not in self._scales:
            self._scales[key] = self._scale(tensor)
        return self._scales[key]

    def _scale(self, tensor):
        layer, index = _producer(tensor)
        if layer is None or isinstance(layer, keras.layers.InputLayer):
            return 1.0 if self.input_is_spikes else None
        if isinstance(layer, SpikingNeuron):
            return 1.0 if index == 0 else None  # index 1: the membrane
        if isinstance(layer, SPIKE_ENCODERS):
            return 1.0
        core = inner(layer)
        if not isinstance(core, COUNT_PRESERVING + AVERAGE_POOLS + GLOBAL_AVERAGE_POOLS):
            return None
        (source,) = input_tensors(layer)
        scale = self.spike_scale(source)
        if scale is None or isinstance(core, COUNT_PRESERVING):
            return scale
        spatial = spatial_shape(core, _folded_shape(layer, source.shape))
        if isinstance(core, GLOBAL_AVERAGE_POOLS):
            return scale * math.prod(spatial)
        for n, k, s in zip(spatial, core.pool_size, core.strides):
            if padding_amount(n, k, s, 1, core.padding) != (0, 0):
                return None  # partial windows average fewer elements
        return scale * math.prod(core.pool_size)

    def has_time(self, tensor):
        """Whether ``tensor`` is time-major ``(batch, T, ...)``."""
        key = id(tensor)
        if key not in self._times:
            layer, _ = _producer(tensor)
            if layer is None or isinstance(layer, keras.layers.InputLayer):
                result = self.input_has_time
            elif isinstance(layer, READOUTS):
                result = False
            elif isinstance(layer, (*ENCODERS, SpikingNeuron, TimeFolded)):
                result = True
            else:
                result = any(self.has_time(t) for t in input_tensors(layer))
            self._times[key] = result
        return self._times[key]
