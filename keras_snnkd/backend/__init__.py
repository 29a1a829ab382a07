"""Backend-specific code, selected by ``keras.backend.backend()``.

Everything else in keras_snnkd is written with ``keras.ops``; the few things
that need the backend's own autodiff or runtime live here, one module per
backend with the same functions:

- ``value_and_grad(fn, args)``: ``fn(*args)`` and its gradients w.r.t. ``args``.
"""

import importlib

import keras

_MODULES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


def _impl():
    name = keras.backend.backend()
    if name not in _MODULES:
        raise RuntimeError(
            f"keras_snnkd supports the tensorflow, jax and torch backends; Keras "
            f"is running on {name!r}."
        )
    return importlib.import_module(f"keras_snnkd.backend.{_MODULES[name]}_backend")


def value_and_grad(fn, args):
    """Returns ``(fn(*args), [d fn / d arg for arg in args])`` for a scalar ``fn``.

    Args:
        fn: callable returning a scalar tensor, written with ``keras.ops``.
        args: sequence of float tensors or numpy arrays to differentiate.

    Returns:
        ``(value, grads)`` as numpy arrays.

    Example:
    >>> import numpy as np
    >>> from keras import ops
    >>> from keras_snnkd.backend import value_and_grad
    >>> value, (grad,) = value_and_grad(lambda x: ops.sum(x * x), [np.array([1.0, 2.0], "float32")])
    >>> float(value), grad.tolist()
    (5.0, [2.0, 4.0])
    """
    return _impl().value_and_grad(fn, list(args))
