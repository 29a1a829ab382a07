"""`ExportPlan`: a spiking Keras model as a static list of operations."""

import dataclasses

import keras
import numpy as np

from keras_snnkd.export import _ops
from keras_snnkd.layers import (
    LastMembrane,
    MeanOverTime,
    RepeatEncoder,
    SpikeCount,
    TimeFolded,
)
from keras_snnkd.layers.timesteps import infer_timesteps
from keras_snnkd.neurons import IF, LIF, ParametricLIF, SpikingNeuron
from keras_snnkd.validation import check_positive_int

_IDENTITY = (keras.layers.Dropout, keras.layers.SpatialDropout1D,
             keras.layers.SpatialDropout2D, keras.layers.GaussianNoise,
             keras.layers.GaussianDropout, keras.layers.Identity)
_READOUTS = (MeanOverTime, SpikeCount, LastMembrane)
SUPPORTED = ("Dense, Conv2D, AveragePooling2D, MaxPooling2D, Flatten, Reshape, "
             "BatchNormalization (after Dense/Conv2D), ReLU, Dropout, TimeFolded(...) "
             "of those, RepeatEncoder, IF, LIF, ParametricLIF, and one readout "
             "(MeanOverTime, SpikeCount, LastMembrane)")


@dataclasses.dataclass
class ExportPlan:
    """A spiking model unrolled into static stages, with weights as numpy arrays.

    Exporters (`to_tflite`, `to_nir`) read this instead of the Keras layers.
    The model runs as::

        x  = pre(input)                       # once (before the encoder)
        for t in range(T):
            y_t = body(x or input[t])         # stateless ops and neurons
            z_t = tail(y_t)                   # ops after the last neuron
        r = readout(z_0 .. z_{T-1})           # weighted sum over time
        output = post(r)                      # ops after the readout, once

    Stateless layers between a `RepeatEncoder` and the first neuron see the
    same input at every step, so they are moved into ``pre`` (computed once).

    Attributes:
        name: the model name.
        input_shape: input shape without batch (includes ``T`` when
            ``time_major``).
        time_major: True when the model has no encoder and reads
            ``(batch, T, ...)`` inputs.
        timesteps: ``T``.
        pre, body, tail, post: lists of ops from `keras_snnkd.export._ops`.
        readout: the `Readout`.

    Example:
    >>> from keras_snnkd.models import dense_snn
    >>> from keras_snnkd.export import ExportPlan
    >>> plan = ExportPlan.from_model(dense_snn(timesteps=3, input_shape=(8, 8, 1), hidden=(16,)))
    >>> [type(op).__name__ for op in plan.pre], [type(op).__name__ for op in plan.body]
    (['Reshape', 'Affine'], ['Neuron'])
    >>> plan.timesteps, plan.readout.kind, plan.output_shape
    (3, 'mean', (10,))
    """

    name: str
    input_shape: tuple
    time_major: bool
    timesteps: int
    pre: list
    body: list
    tail: list
    readout: object
    post: list

    @property
    def neurons(self):
        """The `Neuron` ops in order."""
        return [op for op in self.body if isinstance(op, _ops.Neuron)]

    @property
    def step_input_shape(self):
        """Shape of what one time step of ``body`` receives."""
        if self.pre:
            return self.pre[-1].output_shape
        return self.input_shape[1:] if self.time_major else self.input_shape

    @property
    def output_shape(self):
        for stage in (self.post, self.tail, self.body):
            if stage:
                return stage[-1].output_shape
        return self.step_input_shape

    @property
    def tail_is_linear(self):
        """True when every op after the last neuron commutes with the sum over time."""
        return all(_ops.is_linear(op) for op in self.tail)

    @classmethod
    def from_model(cls, model, timesteps=None):
        """Builds the plan of a built Keras model.

        Args:
            model: a `keras.Sequential` or a single-chain functional model of
                supported layers (see `SUPPORTED`).
            timesteps: number of steps to unroll; default: the model's own
                (`keras_snnkd.layers.infer_timesteps`).

        Raises:
            ValueError: unsupported layer or structure, dynamic time length,
                ``timesteps`` invalid.
        """
        if not isinstance(model, keras.Model):
            raise TypeError(
                f"ExportPlan: `model` must be a keras.Model, got {type(model).__name__}."
            )
        if not model.built or not getattr(model, "inputs", None):
            raise ValueError(
                f"ExportPlan: model {model.name!r} is not built with a known input "
                "shape; give it a keras.Input(...) or call it on data first."
            )
        if len(model.inputs) != 1 or len(model.outputs) != 1:
            raise ValueError(
                f"ExportPlan: model {model.name!r} must have one input and one output; "
                f"got {len(model.inputs)} inputs and {len(model.outputs)} outputs."
            )
        layers = _chain(model)
        input_shape = tuple(model.inputs[0].shape[1:])
        time_major = not any(isinstance(layer, RepeatEncoder) for layer in layers)
        if timesteps is None:
            try:
                timesteps = infer_timesteps(model)
            except ValueError as error:
                raise ValueError(
                    f"ExportPlan: cannot export model {model.name!r} with a dynamic "
                    f"time length: {error} Or pass `timesteps=T`."
                ) from None
        check_positive_int("ExportPlan", "timesteps", timesteps)
        if time_major:
            input_shape = (timesteps, *input_shape[1:])
        if any(dim is None for dim in input_shape):
            raise ValueError(
                f"ExportPlan: model {model.name!r} has a dynamic input shape "
                f"{input_shape}; export needs static shapes (batch size 1 on the device)."
            )
        return _Builder(model.name, input_shape, time_major, timesteps).run(layers)


def _chain(model):
    """The layers of a Sequential or single-chain functional model, in order."""
    if isinstance(model, keras.Sequential):
        return list(model.layers)
    layers = [layer for layer in model.layers
              if not isinstance(layer, keras.layers.InputLayer)]
    previous = model.inputs[0]
    for layer in layers:
        nodes = layer._inbound_nodes
        if len(nodes) != 1 or len(nodes[0].input_tensors) != 1 or \
                nodes[0].input_tensors[0] is not previous:
            raise ValueError(
                f"ExportPlan: model {model.name!r} is not a single chain of layers "
                f"(layer {layer.name!r} does not take the previous layer's output "
                "alone); export supports Sequential models and single-chain "
                "functional models."
            )
        previous = nodes[0].output_tensors[0]
    return layers


def _numpy(weight):
    return np.asarray(keras.ops.convert_to_numpy(weight), dtype="float32")


def _neuron(layer, shape):
    name = layer.name
    if layer.return_membrane:
        raise ValueError(
            f"ExportPlan: neuron {name!r} has return_membrane=True; export needs "
            "neurons that return spikes only."
        )
    threshold = (float(_numpy(layer.threshold_weight)) if layer.threshold_weight is not None
                 else layer.threshold)
    rest = layer.resting_potential
    initial = getattr(layer, "initial_membrane", None)
    if isinstance(layer, IF):
        beta, alpha = 1.0, 1.0
    elif isinstance(layer, LIF):
        beta = layer.decay
        alpha = (1.0 - beta) if layer.decay_input else 1.0
    elif isinstance(layer, ParametricLIF):
        k = float(1.0 / (1.0 + np.exp(-float(_numpy(layer.w)))))
        beta, alpha = 1.0 - k, (k if layer.decay_input else 1.0)
    else:
        raise ValueError(
            f"ExportPlan: neuron {name!r} of type {type(layer).__name__} is not "
            "supported; supported neurons are IF, LIF and ParametricLIF."
        )
    return _ops.Neuron(
        name=name, kind=type(layer).__name__, beta=float(beta), alpha=float(alpha),
        gamma=float((1.0 - beta) * rest), threshold=float(threshold), reset=layer.reset,
        v_reset=float(layer.v_reset), rest=float(rest),
        initial=float(rest if initial is None else initial),
        inclusive=layer.threshold_inclusive, reset_delay=layer.reset_delay,
        shape=tuple(shape),
    )


def _padding(layer):
    padding = layer.padding.lower()
    if padding not in ("valid", "same"):
        raise ValueError(
            f"ExportPlan: layer {layer.name!r} has padding={layer.padding!r}; "
            "export supports 'valid' and 'same'."
        )
    return padding


def _channels_last(layer):
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise ValueError(
            f"ExportPlan: layer {layer.name!r} uses data_format="
            f"{layer.data_format!r}; export supports channels_last only."
        )


class _Builder:
    """Walks the layers once, tracking the shape of one sample at one step."""

    def __init__(self, name, input_shape, time_major, timesteps):
        self.name = name
        self.input_shape = input_shape
        self.time_major = time_major
        self.timesteps = timesteps
        self.shape = input_shape[1:] if time_major else input_shape
        self.stage = "body" if time_major else "pre"
        self.stages = {"pre": [], "body": [], "tail": [], "post": []}
        self.readout = None

    def emit(self, op):
        self.stages[self.stage].append(op)
        self.shape = tuple(op.output_shape)

    def run(self, layers):
        for layer in layers:
            self.add(layer)
        if self.readout is None:
            raise ValueError(
                f"ExportPlan: model {self.name!r} has no readout; end the spiking "
                "part with MeanOverTime, SpikeCount or LastMembrane so the output "
                "has no time axis."
            )
        stages = self.stages
        if not any(isinstance(op, _ops.Neuron) for op in stages["body"]):
            raise ValueError(f"ExportPlan: model {self.name!r} has no spiking neuron layer.")
        last = max(i for i, op in enumerate(stages["body"]) if isinstance(op, _ops.Neuron))
        stages["tail"] = stages["body"][last + 1:] + stages["tail"]
        body = stages["body"][:last + 1]
        if not self.time_major:
            # Under direct encoding the ops before the first neuron see the same
            # input at every step: compute them once.
            first = next(i for i, op in enumerate(body) if isinstance(op, _ops.Neuron))
            stages["pre"] += body[:first]
            body = body[first:]
        return ExportPlan(
            name=self.name, input_shape=self.input_shape, time_major=self.time_major,
            timesteps=self.timesteps, pre=stages["pre"], body=body,
            tail=stages["tail"], readout=self.readout, post=stages["post"],
        )

    def unsupported(self, layer, why=""):
        return ValueError(
            f"ExportPlan: layer {layer.name!r} of type {type(layer).__name__} is not "
            f"supported for export{why}. Supported: {SUPPORTED}."
        )

    def add(self, layer):
        if isinstance(layer, keras.layers.InputLayer) or isinstance(layer, _IDENTITY):
            return
        if isinstance(layer, RepeatEncoder):
            if self.stage != "pre":
                raise self.unsupported(layer, " (only one encoder, before the neurons)")
            self.stage = "body"
            return
        if isinstance(layer, SpikingNeuron):
            if self.stage != "body":
                raise self.unsupported(layer, " here (neurons need a time axis: put an "
                                       "encoder before them and no readout)")
            self.emit(_neuron(layer, self.shape))
            return
        if isinstance(layer, _READOUTS):
            if self.stage != "body":
                raise self.unsupported(layer, " here (one readout, after the neurons)")
            kind = {MeanOverTime: "mean", SpikeCount: "sum", LastMembrane: "membrane"}
            kind = kind[type(layer)]
            self.readout = _ops.Readout(
                name=layer.name, kind=kind,
                scale=1.0 / self.timesteps if kind == "mean" else 1.0,
                decay=layer.beta if kind == "membrane" else 1.0)
            self.stage = "post"
            return
        if isinstance(layer, TimeFolded):
            if self.stage != "body":
                raise self.unsupported(layer, " outside the time-major part")
            layer = layer.layer
        self.add_stateless(layer)

    def add_stateless(self, layer):
        shape = self.shape
        if isinstance(layer, keras.layers.BatchNormalization):
            self.fold_batch_norm(layer)
            return
        if isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D)):
            self.emit(self.affine(layer, shape))
        elif isinstance(layer, (keras.layers.AveragePooling2D, keras.layers.MaxPooling2D)):
            _channels_last(layer)
            out = layer.compute_output_shape((1, *shape))[1:]
            self.emit(_ops.Pool(
                name=layer.name,
                kind="avg" if isinstance(layer, keras.layers.AveragePooling2D) else "max",
                size=tuple(layer.pool_size), strides=tuple(layer.strides),
                padding=_padding(layer), input_shape=shape, output_shape=tuple(out)))
        elif isinstance(layer, (keras.layers.Flatten, keras.layers.Reshape)):
            _channels_last(layer)
            out = tuple(layer.compute_output_shape((1, *shape))[1:])
            self.emit(_ops.Reshape(name=layer.name, input_shape=shape, output_shape=out))
        elif isinstance(layer, keras.layers.ReLU) or (
                isinstance(layer, keras.layers.Activation)
                and getattr(layer.activation, "__name__", "") == "relu"):
            if isinstance(layer, keras.layers.ReLU) and (
                    layer.max_value is not None or layer.negative_slope or layer.threshold):
                raise self.unsupported(layer, " (only a plain ReLU)")
            self.emit(_ops.Relu(name=layer.name, input_shape=shape, output_shape=shape))
        else:
            raise self.unsupported(layer)

    def affine(self, layer, shape):
        activation = getattr(layer.activation, "__name__", str(layer.activation))
        if activation not in ("linear", "relu"):
            raise self.unsupported(layer, f" with activation {activation!r} (only linear or relu)")
        kernel = _numpy(layer.kernel)
        bias = _numpy(layer.bias) if layer.use_bias else np.zeros(kernel.shape[-1], "float32")
        if isinstance(layer, keras.layers.Dense):
            if len(shape) != 1:
                raise self.unsupported(
                    layer, f" on a {shape} tensor (put Flatten before Dense)")
            return _ops.Affine(name=layer.name, kind="dense", kernel=kernel, bias=bias,
                               input_shape=shape, output_shape=(kernel.shape[1],),
                               relu=activation == "relu")
        if type(layer) is not keras.layers.Conv2D:
            raise self.unsupported(layer)
        _channels_last(layer)
        if layer.groups != 1:
            raise self.unsupported(layer, f" with groups={layer.groups} (only 1)")
        out = layer.compute_output_shape((1, *shape))[1:]
        return _ops.Affine(name=layer.name, kind="conv", kernel=kernel, bias=bias,
                           input_shape=shape, output_shape=tuple(out),
                           strides=tuple(layer.strides), padding=_padding(layer),
                           dilation=tuple(layer.dilation_rate), relu=activation == "relu")

    def fold_batch_norm(self, layer):
        ops = self.stages[self.stage]
        previous = ops[-1] if ops else None
        last_axis = layer.axis in (-1, len(self.shape))
        if not isinstance(previous, _ops.Affine) or previous.relu or not last_axis:
            raise self.unsupported(
                layer, " unless it directly follows a Dense/Conv2D without activation "
                "and normalizes the last axis")
        gamma = _numpy(layer.gamma) if layer.scale else 1.0
        beta = _numpy(layer.beta) if layer.center else 0.0
        scale = gamma / np.sqrt(_numpy(layer.moving_variance) + layer.epsilon)
        previous.kernel = (previous.kernel * scale).astype("float32")
        bias = (previous.bias - _numpy(layer.moving_mean)) * scale + beta
        previous.bias = bias.astype("float32")
