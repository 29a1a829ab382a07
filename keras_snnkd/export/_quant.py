"""Affine int8 (de)quantization of interpreter inputs and outputs."""

import numpy as np


def quantize(x, dtype, scale, zero_point):
    """``round(x / scale + zero_point)`` clipped to ``dtype``; float dtypes pass through."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return np.asarray(x, dtype)
    info = np.iinfo(dtype)
    return np.clip(np.round(np.asarray(x, "float64") / scale + zero_point),
                   info.min, info.max).astype(dtype)


def dequantize(q, scale, zero_point):
    """``scale * (q - zero_point)`` as float32; float arrays pass through."""
    q = np.asarray(q)
    if q.dtype.kind == "f":
        return q.astype("float32")
    return (scale * (q.astype("float64") - zero_point)).astype("float32")
