"""`fold_batch_norm`: merges an inference-mode BatchNormalization into the layer before it."""

import keras
import numpy as np


def fold_batch_norm(kernel, bias, batch_norm):
    """Folds ``batch_norm`` (inference statistics) into a kernel and bias.

    With ``a = gamma / sqrt(moving_variance + epsilon)`` per output channel,
    ``BN(W x + b) = (a W) x + a (b - moving_mean) + beta``, so the folded
    layer has kernel ``a * W`` (scaled along the output-channel axis, the last
    one of Dense and Conv kernels) and bias ``a (b - moving_mean) + beta``.

    Args:
        kernel: numpy kernel of a Dense/Conv layer, output channels last.
        bias: numpy bias, or None for a layer without bias.
        batch_norm: a built `keras.layers.BatchNormalization` that normalizes
            the output channels of that layer.

    Returns:
        ``(kernel, bias)`` numpy arrays (new copies, float32).

    Raises:
        ValueError: the channel counts differ.

    Example:
    >>> import numpy as np, keras
    >>> from keras_snnkd.convert import fold_batch_norm
    >>> bn = keras.layers.BatchNormalization(epsilon=0.0)
    >>> bn.build((None, 2))
    >>> bn.set_weights([np.array([2.0, 1.0]), np.array([0.5, 0.0]),   # gamma, beta
    ...                 np.array([1.0, 0.0]), np.array([4.0, 0.25])])  # mean, variance
    >>> kernel, bias = fold_batch_norm(np.ones((3, 2)), np.zeros(2), bn)
    >>> kernel[0].tolist(), bias.tolist()
    ([1.0, 2.0], [-0.5, 0.0])
    """
    get = lambda weight: np.asarray(keras.ops.convert_to_numpy(weight), "float64")
    channels = kernel.shape[-1]
    if batch_norm.moving_mean.shape[0] != channels:
        raise ValueError(
            f"fold_batch_norm: BatchNormalization {batch_norm.name!r} normalizes "
            f"{batch_norm.moving_mean.shape[0]} channels but the layer before it has "
            f"{channels} output channels."
        )
    gamma = get(batch_norm.gamma) if batch_norm.scale else np.ones(channels)
    beta = get(batch_norm.beta) if batch_norm.center else np.zeros(channels)
    scale = gamma / np.sqrt(get(batch_norm.moving_variance) + batch_norm.epsilon)
    bias = np.zeros(channels) if bias is None else np.asarray(bias, "float64")
    new_bias = scale * (bias - get(batch_norm.moving_mean)) + beta
    return (np.asarray(kernel, "float64") * scale).astype("float32"), new_bias.astype("float32")
