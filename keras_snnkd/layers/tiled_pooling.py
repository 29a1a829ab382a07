"""Average pooling over windows that tile the input, as a reshape and a mean.

A Keras ``AveragePooling1D`` or ``2D`` with ``padding="valid"`` and ``strides``
equal to ``pool_size`` averages disjoint windows that tile the input (the
remainder rows and columns dropped). For input ``x`` of spatial size
``d_i`` and pool ``p_i``, with ``o_i = floor(d_i / p_i)``:

    y[n, o_1, ..., c] = mean over k_i < p_i of x[n, o_1 * p_1 + k_1, ..., c]

which is ``x`` cropped to ``o_i * p_i``, reshaped so that each window has an
axis of its own, ``(n, o_1, p_1, ..., c)``, and averaged over the ``p_i`` axes.

On PyTorch `TimeFolded` pools that way (`keras_snnkd.backend.pools_as_mean`).
There Keras's pooling calls ATen's ``avg_pool``, whose backward takes the input
(for its shape), so autograd and ``torch.compile``'s partitioner keep it until
the backward pass: for a neuron layer's spikes, a channels-first float copy of
all of them. The mean keeps nothing. Reference SNN, PyTorch alone installed,
batch 64, one process each (two pairs at T = 4, one at T = 32), Keras's layer
against a subclass of it (which `TimeFolded` calls as it is): T = 4, 48 against
85 MB saved for the backward pass, peaks 704 and 689 against 734 and 728 MB,
steps 61 and 56 against 63 and 64 ms; T = 32, 371 against 665 MB saved, peak
2177 against 2496 MB, step 432 against 526 ms. TensorFlow and JAX keep calling
the layer: their pooling's gradient needs only the input's shape, and the mean
made TensorFlow's step without XLA 30 % slower (T = 4: 83 against 63-65 ms);
under XLA the two stepped alike (57-62 ms).
"""

import keras
from keras import ops

# Not AveragePooling3D: its windows reshape to 8 axes, and TensorFlow's gradient of
# the mean then fails (BroadcastTo: "Broadcast between [...] is not supported yet").
_AVERAGE_POOLS = (keras.layers.AveragePooling1D, keras.layers.AveragePooling2D)


def tiles(layer, inputs):
    """Whether `tiled_average_pool` computes ``layer`` on ``inputs``.

    True for a Keras ``AveragePooling1D`` or ``2D`` itself (not a subclass, which may
    change ``call``) with ``padding="valid"``, ``strides == pool_size`` and no
    activity regularizer, on floating inputs of the layer's rank whose spatial
    shape is static and holds at least one window.

    Args:
        layer: a `keras.layers.Layer`.
        inputs: a tensor or `keras.KerasTensor` (its shape and dtype are read).

    Returns:
        bool.

    Example:
    >>> import keras
    >>> from keras_snnkd.layers.tiled_pooling import tiles
    >>> spikes = keras.KerasTensor((None, 28, 28, 32))
    >>> tiles(keras.layers.AveragePooling2D(2), spikes)
    True
    >>> tiles(keras.layers.AveragePooling2D(2, strides=1), spikes)
    False
    """
    if (type(layer) not in _AVERAGE_POOLS or layer.padding != "valid"
            or tuple(layer.strides) != tuple(layer.pool_size)
            or layer.activity_regularizer is not None
            or len(inputs.shape) != len(layer.pool_size) + 2
            or not keras.backend.is_float_dtype(inputs.dtype)):
        return False
    sizes = _spatial(layer, inputs.shape)
    return all(size is not None and size >= pool for size, pool in zip(sizes, layer.pool_size))


def _spatial(layer, shape):
    rank = len(layer.pool_size)
    return tuple(shape[2:] if layer.data_format == "channels_first" else shape[1:1 + rank])


def tiled_average_pool(layer, inputs):
    """``layer(inputs)`` for a ``layer`` that `tiles` its input, as a reshape and a mean.

    Args:
        layer: a Keras average pooling layer for which `tiles` is True.
        inputs: floating tensor, batch axis first, in ``layer.data_format``.

    Raises:
        ValueError: where `tiles` is False.

    Returns:
        The pooled tensor, in ``layer.compute_dtype``: what ``layer(inputs)``
        gives, up to float summation order.

    Example:
    >>> import numpy as np, keras
    >>> from keras_snnkd.layers.tiled_pooling import tiled_average_pool
    >>> x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    >>> keras.ops.convert_to_numpy(tiled_average_pool(keras.layers.AveragePooling2D(2), x))[0, :, :, 0]
    array([[ 2.5,  4.5],
           [10.5, 12.5]], dtype=float32)
    """
    inputs = ops.convert_to_tensor(inputs)
    if not tiles(layer, inputs):
        raise ValueError(
            f"tiled_average_pool: `layer` ({layer.name}) does not tile `inputs` of shape "
            f"{tuple(inputs.shape)} and dtype {inputs.dtype} (see `tiles`).")
    inputs = ops.cast(inputs, layer.compute_dtype)
    first = 2 if layer.data_format == "channels_first" else 1  # the first spatial axis
    sizes, pools = _spatial(layer, inputs.shape), layer.pool_size
    outer = [size // pool for size, pool in zip(sizes, pools)]
    if any(o * pool != size for o, pool, size in zip(outer, pools, sizes)):
        inputs = inputs[(slice(None),) * first
                        + tuple(slice(0, o * pool) for o, pool in zip(outer, pools))]
    windows = [n for o, pool in zip(outer, pools) for n in (o, pool)]
    shape = (-1, *inputs.shape[1:first], *windows, *inputs.shape[first + len(pools):])
    return ops.mean(ops.reshape(inputs, shape),
                    axis=tuple(first + 2 * i + 1 for i in range(len(pools))))
