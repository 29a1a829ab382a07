"""Window geometry of convolutions and pools: output lengths and fan-out maps.

The fan-out of an input position is the number of output positions whose
window covers it. Along one axis of length ``n`` with kernel ``k``, stride
``s``, dilation ``d`` and ``p`` zeros padded before, output ``o`` reads the
inputs ``i = o*s + j*d - p`` for ``j = 0..k-1``; the fan-out of ``i`` is

    f(i) = #{(o, j) : 0 <= o < n_out, 0 <= j < k, o*s + j*d - p = i}.

Edge positions reach fewer outputs than interior ones (padding, strides that
skip the tail). A window is a product of per-axis windows, so the fan-out of a
position in N dimensions is the product of its per-axis fan-outs.
"""

import math

import numpy as np

__all__ = ["output_length", "padding_amount", "axis_fanout", "fanout_map"]


def padding_amount(length, kernel, stride=1, dilation=1, padding="valid"):
    """Zeros padded ``(before, after)`` along one axis (the TensorFlow rule:
    ``"same"`` puts the odd extra zero after).

    Example:
    >>> from keras_snnkd.cost.fanout import padding_amount
    >>> padding_amount(28, 3, padding="same"), padding_amount(8, 3, 2, padding="same")
    ((1, 1), (0, 1))
    """
    span = (kernel - 1) * dilation + 1
    if padding == "valid":
        return 0, 0
    if padding == "causal":
        return span - 1, 0
    total = max((output_length(length, kernel, stride, dilation, padding) - 1) * stride
                + span - length, 0)
    return total // 2, total - total // 2


def output_length(length, kernel, stride=1, dilation=1, padding="valid"):
    """Output length along one axis (the Keras/TensorFlow convention).

    Args:
        length: input length ``n``.
        kernel, stride, dilation: window size ``k``, step ``s``, dilation ``d``.
        padding: ``"valid"``, ``"same"`` or ``"causal"``.

    Returns:
        ``floor((n - (k-1)d - 1) / s) + 1`` for ``"valid"``, ``ceil(n / s)``
        for ``"same"`` and ``"causal"``.

    Example:
    >>> from keras_snnkd.cost.fanout import output_length
    >>> output_length(28, 3, 1, padding="same"), output_length(7, 3, 2)
    (28, 3)
    """
    if padding in ("same", "causal"):
        return math.ceil(length / stride)
    if padding != "valid":
        raise ValueError(
            f"output_length: `padding` must be 'valid', 'same' or 'causal'; got {padding!r}."
        )
    return max((length - (kernel - 1) * dilation - 1) // stride + 1, 0)


def axis_fanout(length, kernel, stride=1, dilation=1, padding="valid"):
    """Fan-out ``f(i)`` of every input position along one axis.

    Returns:
        int64 array of shape ``(length,)``; ``f.sum() = n_out * k`` minus the
        taps that fall on padding.

    Example:
    >>> from keras_snnkd.cost.fanout import axis_fanout
    >>> axis_fanout(5, 3, padding="same").tolist()
    [2, 3, 3, 3, 2]
    >>> axis_fanout(5, 3, stride=2).tolist()
    [1, 1, 2, 1, 1]
    """
    n_out = output_length(length, kernel, stride, dilation, padding)
    before = padding_amount(length, kernel, stride, dilation, padding)[0]
    taps = (np.arange(n_out)[:, None] * stride + np.arange(kernel)[None, :] * dilation
            - before).ravel()
    taps = taps[(taps >= 0) & (taps < length)]
    return np.bincount(taps, minlength=length).astype(np.int64)


def fanout_map(shape, kernel, strides, dilations, padding):
    """Fan-out of every position of an N-dimensional input (outer product of axes).

    Args:
        shape: spatial input shape ``(n_1, ..., n_N)``.
        kernel, strides, dilations: tuples of length N.
        padding: ``"valid"``, ``"same"`` or ``"causal"``.

    Returns:
        int64 array of shape ``shape``.

    Example:
    >>> from keras_snnkd.cost.fanout import fanout_map
    >>> fanout_map((3, 3), (3, 3), (1, 1), (1, 1), "same").tolist()
    [[4, 6, 4], [6, 9, 6], [4, 6, 4]]
    """
    result = np.ones((), np.int64)
    for n, k, s, d in zip(shape, kernel, strides, dilations):
        result = np.multiply.outer(result, axis_fanout(n, k, s, d, padding))
    return result
