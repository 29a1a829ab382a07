"""Argument checks shared by the library: each error names the argument,
what was expected and what was given."""

import math

import keras


def check_number(owner, name, value, *, low=None, high=None, low_inclusive=False,
                 high_inclusive=True):
    """Returns ``float(value)`` after checking it is a finite real in range.

    Args:
        owner: the class or function name shown in the message.
        name: the argument name shown in the message.
        low, high: optional bounds; ``low_inclusive``/``high_inclusive`` say
            whether the bound itself is allowed.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"{owner}: `{name}` must be a number, got {value!r} of type "
            f"{type(value).__name__}."
        )
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{owner}: `{name}` must be finite, got {value!r}.")
    if low is not None and (value < low or (value == low and not low_inclusive)):
        op = ">=" if low_inclusive else ">"
        raise ValueError(f"{owner}: `{name}` must be {op} {low}, got {value!r}.")
    if high is not None and (value > high or (value == high and not high_inclusive)):
        op = "<=" if high_inclusive else "<"
        raise ValueError(f"{owner}: `{name}` must be {op} {high}, got {value!r}.")
    return value


def check_positive_int(owner, name, value):
    """Returns ``value`` after checking it is an int >= 1 (bools rejected)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"{owner}: `{name}` must be a positive int, got {value!r} of type "
            f"{type(value).__name__}."
        )
    if value < 1:
        raise ValueError(f"{owner}: `{name}` must be >= 1, got {value}.")
    return value


def check_choice(owner, name, value, choices):
    """Returns ``value`` after checking it is one of ``choices``."""
    if value not in choices:
        raise ValueError(
            f"{owner}: `{name}` must be one of {', '.join(map(repr, choices))}; "
            f"got {value!r}."
        )
    return value


def check_float_dtype(owner, dtype):
    """Raises TypeError unless ``dtype`` is a floating-point dtype."""
    if not keras.backend.is_float_dtype(dtype):
        raise TypeError(
            f"{owner}: `inputs` must have a floating-point dtype (float16, "
            f"bfloat16, float32 or float64), got {keras.backend.standardize_dtype(dtype)}."
            " Cast the data first, e.g. `x.astype('float32')`."
        )


def check_time_major_shape(owner, shape):
    """Checks a ``(batch, time, ...features)`` shape: rank >= 3, time != 0."""
    shape = tuple(shape)
    if len(shape) < 3:
        raise ValueError(
            f"{owner}: `inputs` must have shape (batch, time, ...features) with "
            f"rank >= 3; got shape {shape} (rank {len(shape)}). Add a time axis "
            "with an encoder such as keras_snnkd.layers.RepeatEncoder(T)."
        )
    if shape[1] == 0:
        raise ValueError(
            f"{owner}: the time axis (axis 1) of `inputs` has length 0; got "
            f"shape {shape}. At least one time step is needed."
        )
