"""What a distillation loss reads from a model: its final output or the output
of a named layer, checked symbolically before training starts.

Features are fetched in one forward pass by a functional *extractor* that
shares the model's layers and returns a dict ``{key: tensor}``: `FINAL` holds
the model's own output, a layer name holds that layer's output (a tuple
``(spikes, membrane)`` for neurons built with ``return_membrane=True``).
"""

import keras
from keras import ops

from keras_snnkd.layers import LatencyEncoder, PoissonEncoder, RepeatEncoder, TimeFolded
from keras_snnkd.neurons import SpikingNeuron

__all__ = ["FINAL", "check_model", "get_layer", "layer_output", "is_time_major",
           "last_spiking_layer_name", "feature_extractor", "is_pair", "time_mean"]

FINAL = "__final__"
TIME_MAJOR_LAYERS = (SpikingNeuron, TimeFolded, RepeatEncoder, PoissonEncoder, LatencyEncoder)


def check_model(owner, role, model):
    """Checks that ``model`` is a built Functional or Sequential `keras.Model`.

    Args:
        owner: class or function name shown in the message.
        role: the argument name, e.g. ``"teacher"``.
        model: the object to check.

    Returns:
        ``model``.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"{owner}: `{role}` must be a keras.Model, got {model!r} of type "
            f"{type(model).__name__}."
        )
    if not model.built or not getattr(model, "inputs", None):
        raise ValueError(
            f"{owner}: `{role}` model {model.name!r} is not built: it has no symbolic "
            "inputs, so its output and layer shapes are unknown. Give it an input "
            "(keras.Sequential([keras.Input(shape), ...]) or a functional model); "
            f"for a subclassed model, wrap it: inp = keras.Input(shape); "
            f"keras.Model(inp, {role}(inp))."
        )
    if len(model.outputs) != 1:
        raise ValueError(
            f"{owner}: `{role}` model {model.name!r} must have exactly one output "
            f"(the logits); it has {len(model.outputs)}."
        )
    return model


def get_layer(owner, role, model, layer_name):
    """``model``'s layer ``layer_name``.

    Raises:
        ValueError: naming every layer of the model when ``layer_name`` is not one.
    """
    names = [layer.name for layer in model.layers]
    if layer_name not in names:
        raise ValueError(
            f"{owner}: `{role}_layer_name` {layer_name!r} is not a layer of the "
            f"{role} model {model.name!r}. Valid names: {', '.join(names)}."
        )
    return model.get_layer(layer_name)


def layer_output(owner, role, model, layer_name):
    """The symbolic output of ``model``'s layer ``layer_name`` (None: the model output)."""
    if layer_name is None:
        return model.outputs[0]
    return get_layer(owner, role, model, layer_name).output


def is_time_major(owner, role, model, layer_name):
    """Whether the layer outputs ``(batch, T, ...)``: a neuron, an encoder or a
    `TimeFolded` layer. None (unknown) for the model output."""
    if layer_name is None:
        return None
    return isinstance(get_layer(owner, role, model, layer_name), TIME_MAJOR_LAYERS)


def last_spiking_layer_name(owner, role, model):
    """The name of the last `SpikingNeuron` layer of ``model``.

    Raises:
        ValueError: when the model has no spiking layer.
    """
    spiking = [layer.name for layer in model.layers if isinstance(layer, SpikingNeuron)]
    if not spiking:
        raise ValueError(
            f"{owner}: the {role} model {model.name!r} has no spiking layer, so it has "
            f"no output spikes to distill; pass `{role}_layer_name` explicitly. Its "
            f"layers: {', '.join(layer.name for layer in model.layers)}."
        )
    return spiking[-1]


def feature_extractor(model, layer_names):
    """A functional model sharing ``model``'s layers that returns
    ``{FINAL: output, name: layer output for name in layer_names}``."""
    outputs = {FINAL: model.outputs[0]}
    for name in layer_names:
        outputs[name] = model.get_layer(name).output
    # One input as a tensor, not a list of one: the Distiller calls the extractor
    # with a tensor, and Keras warns at every call whose structure differs.
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    return keras.Model(inputs, outputs, name=f"{model.name}_features")


def is_pair(value):
    """True for a neuron's ``(spikes, membrane)`` output: a pair of tensors or of
    shapes (a shape itself is a tuple of ints and None)."""
    return (isinstance(value, (tuple, list)) and len(value) == 2
            and not all(isinstance(d, (int, type(None))) for d in value))


def time_mean(x):
    """The mean over the time axis (axis 1) of a ``(batch, time, ...)`` tensor:
    firing rates for spikes, the average membrane for membranes."""
    return ops.mean(x, axis=1)
