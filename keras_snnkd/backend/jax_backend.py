"""JAX implementations of the keras_snnkd.backend functions."""

import jax
import numpy as np


def value_and_grad(fn, args):
    value, grads = jax.value_and_grad(lambda *a: fn(*a), argnums=tuple(range(len(args))))(
        *[jax.numpy.asarray(a) for a in args]
    )
    return np.asarray(value), [np.asarray(g) for g in grads]
