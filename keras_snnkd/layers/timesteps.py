"""`infer_timesteps`: the number of time steps a spiking model runs."""

from keras_snnkd.layers.latency_encoder import LatencyEncoder
from keras_snnkd.layers.poisson_encoder import PoissonEncoder
from keras_snnkd.layers.repeat_encoder import RepeatEncoder

ENCODERS = (RepeatEncoder, PoissonEncoder, LatencyEncoder)


def infer_timesteps(model):
    """Returns the static number of time steps ``T`` of a spiking model.

    ``T`` comes from the model's encoders (all of which must agree), or, for a
    model fed time-major data, from axis 1 of its input.

    Args:
        model: a built Keras model.

    Returns:
        int ``T``.

    Raises:
        ValueError: encoders disagree on ``T``, or ``T`` is not static.

    Example:
    >>> import keras
    >>> from keras_snnkd.layers import RepeatEncoder, infer_timesteps
    >>> infer_timesteps(keras.Sequential([keras.Input((4,)), RepeatEncoder(6)]))
    6
    """
    found = {
        layer.name: layer.timesteps
        for layer in model._flatten_layers(include_self=False)
        if isinstance(layer, ENCODERS)
    }
    if len(set(found.values())) > 1:
        raise ValueError(
            f"Model {model.name!r} has encoders with different `timesteps`: {found}. "
            "All encoders of one model must use the same T."
        )
    if found:
        return next(iter(found.values()))
    shape = model.inputs[0].shape if getattr(model, "inputs", None) else None
    if shape is None or len(shape) < 3 or shape[1] is None:
        raise ValueError(
            f"Model {model.name!r} has no encoder and no static time axis in its "
            f"input (input shape {None if shape is None else tuple(shape)}); give the "
            "input a fixed length T on axis 1, e.g. keras.Input((T, ...))."
        )
    return int(shape[1])
