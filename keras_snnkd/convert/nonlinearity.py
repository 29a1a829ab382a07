"""`nonlinearity_of`: which nonlinearity a layer applies, as conversion sees it."""

import collections

import keras

from keras_snnkd.layers.step_relu import StepReLU

Nonlinearity = collections.namedtuple("Nonlinearity", ["kind", "threshold", "shift"])
Nonlinearity.__doc__ = """A layer's nonlinearity for conversion.

``kind`` is ``"linear"``, ``"relu"`` (to an IF neuron), ``"step"`` (a `StepReLU`,
to an IF neuron exactly) or ``"softmax"`` (kept after the readout);
``threshold`` is the ceiling when the layer fixes it (StepReLU's trained
``theta``, ReLU's ``max_value``) and None when it must be calibrated; ``shift``
is StepReLU's ``phi`` (None otherwise)."""

_RELU_CEILINGS = {"relu": None, "relu6": 6.0}


def nonlinearity_of(layer):
    """Returns the `Nonlinearity` that ``layer`` ends with.

    Reads the ``activation`` of Dense/Conv/Activation layers and the
    `keras.layers.ReLU`, `keras.layers.Softmax` and
    `keras_snnkd.layers.StepReLU` layers; every other layer is ``"linear"``.

    Args:
        layer: a Keras layer.

    Returns:
        A `Nonlinearity` ``(kind, threshold, shift)``.

    Raises:
        ValueError: the activation has no spiking counterpart (e.g. tanh,
            a leaky ReLU), naming the layer and the activation.

    Example:
    >>> import keras
    >>> from keras_snnkd.convert import nonlinearity_of
    >>> nonlinearity_of(keras.layers.Dense(4, activation="relu6"))
    Nonlinearity(kind='relu', threshold=6.0, shift=None)
    """
    if isinstance(layer, StepReLU):
        return _step(layer)
    if isinstance(layer, keras.layers.ReLU):
        if layer.negative_slope != 0 or layer.threshold != 0:
            raise ValueError(
                f"nonlinearity_of: layer {layer.name!r} is a ReLU with negative_slope="
                f"{layer.negative_slope} and threshold={layer.threshold}; only the plain "
                "ReLU (both 0), optionally with max_value, maps to a spiking neuron."
            )
        ceiling = None if layer.max_value is None else float(layer.max_value)
        return Nonlinearity("relu", ceiling, None)
    if isinstance(layer, keras.layers.Softmax):
        return Nonlinearity("softmax", None, None)
    activation = getattr(layer, "activation", None)
    if activation is None:
        return Nonlinearity("linear", None, None)
    if isinstance(activation, StepReLU):
        return _step(activation)
    name = getattr(activation, "__name__", type(activation).__name__)
    if name in _RELU_CEILINGS:
        return Nonlinearity("relu", _RELU_CEILINGS[name], None)
    if name in ("linear", "softmax"):
        return Nonlinearity(name, None, None)
    raise ValueError(
        f"nonlinearity_of: layer {layer.name!r} ({type(layer).__name__}) uses the "
        f"activation {name!r}, which has no spiking counterpart; the converter knows "
        "relu, relu6, StepReLU, linear and (last) softmax."
    )


def _step(layer):
    if not layer.built:
        raise ValueError(
            f"nonlinearity_of: StepReLU {layer.name!r} is not built, so it has no "
            "threshold yet; convert a built (called or trained) model."
        )
    threshold = float(keras.ops.convert_to_numpy(layer.threshold_weight))
    if not threshold > 0:
        raise ValueError(
            f"nonlinearity_of: StepReLU {layer.name!r} has threshold {threshold}; "
            "a spiking neuron needs a threshold > 0."
        )
    return Nonlinearity("step", threshold, layer.shift)
