"""`calibrate_thresholds`: firing thresholds for ReLU layers from activation percentiles."""

import keras
import numpy as np

from keras_snnkd.convert.layer_chain import layer_chain
from keras_snnkd.convert.nonlinearity import nonlinearity_of
from keras_snnkd.validation import check_number


def calibrate_thresholds(model, data, percentile=99.9):
    """Thresholds for the ReLU activations of an ANN, from a calibration batch.

    Runs ``model`` layer by layer (inference mode) on ``data`` and, after every
    ReLU without a ceiling (``max_value``), takes the ``percentile``-th
    percentile of its positive outputs as the threshold ``theta`` of the
    neuron that replaces it: robust normalization (Rueckauer et al., 2017),
    which ignores the few outliers that a maximum would chase. A ReLU that never
    fires on ``data`` gets ``theta = 1`` (its neuron stays silent whatever
    ``theta`` is).

    Args:
        model: a Sequential or functional Keras ANN (a chain, see `layer_chain`).
        data: a batch of model inputs (numpy array or tensor), e.g. a few
            hundred training samples.
        percentile: in (0, 100]; 100 takes the maximum.

    Returns:
        Dict ``{layer name: theta}`` for every ReLU to calibrate.

    Example:
    >>> import numpy as np, keras
    >>> from keras_snnkd.convert import calibrate_thresholds
    >>> model = keras.Sequential([keras.Input((1,)), keras.layers.ReLU(name="relu")])
    >>> calibrate_thresholds(model, np.arange(-50, 51, dtype="float32")[:, None], 50)
    {'relu': 25.5}
    """
    percentile = check_number("calibrate_thresholds", "percentile", percentile, low=0,
                              high=100)
    data = keras.ops.convert_to_numpy(data)
    expected = tuple(model.inputs[0].shape[1:]) if getattr(model, "inputs", None) else None
    if data.ndim == 0 or data.shape[0] == 0 or (expected and data.shape[1:] != expected):
        raise ValueError(
            f"calibrate_thresholds: `data` must be a non-empty batch of model inputs of "
            f"shape (N, {', '.join(map(str, expected or ('...',)))}); got shape {data.shape}."
        )
    thresholds = {}
    x = data
    for layer in layer_chain(model):
        x = layer(x)
        found = nonlinearity_of(layer)
        if found.kind == "relu" and found.threshold is None:
            active = keras.ops.convert_to_numpy(x)
            active = active[active > 0]
            thresholds[layer.name] = (
                float(np.percentile(active, percentile)) if active.size else 1.0
            )
    return thresholds
