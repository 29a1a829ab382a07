"""Backend-specific code, selected by ``keras.backend.backend()``.

Everything else in keras_snnkd is written with ``keras.ops``; the few things
that need the backend's own autodiff or runtime live here, one module per
backend with the same functions:

- ``value_and_grad(fn, args)``: ``fn(*args)`` and its gradients w.r.t. ``args``.
- ``scan(step, init, xs)``: the neurons' loop over time when it is not unrolled.
- ``fusion_barrier(membrane, spikes)``: the membrane, as a value the compiler
  computes once (stops XLA recomputing an unrolled loop at every step).
- ``reused_region(fn)``: ``fn`` as a region the compiler compiles once and
  calls at each time step (PyTorch; the identity under XLA).
- ``clear_gradients(variables)``: drops the gradients PyTorch keeps on variables.
- ``FOLD_STEPS``: how many time steps `TimeFolded` folds at a time by default.
- ``POOLS_AS_MEAN``: whether `TimeFolded` computes tiling average pools as a
  reshape and a mean.
"""

import importlib

import keras

_MODULES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


_LOADED = {}


def _impl():
    # Imported once per backend and then looked up: an import inside a traced
    # function would break torch.compile's graph at every neuron layer.
    name = keras.backend.backend()
    module = _LOADED.get(name)
    if module is None:
        if name not in _MODULES:
            raise RuntimeError(
                f"keras_snnkd supports the tensorflow, jax and torch backends; Keras "
                f"is running on {name!r}."
            )
        module = _LOADED[name] = importlib.import_module(
            f"keras_snnkd.backend.{_MODULES[name]}_backend")
    return module


def preload():
    """Imports the running backend's module now, when keras_snnkd supports that
    backend (`import keras_snnkd` calls it).

    Imported at its first use instead, the import could run inside a training
    step that ``torch.compile`` traces, where it breaks the graph.
    """
    if keras.backend.backend() in _MODULES:
        _impl()


def fold_steps():
    """The most time steps `keras_snnkd.layers.TimeFolded` folds into one call
    of its layer by default on the running backend, or None for all at once.

    4 on TensorFlow and JAX, where XLA's training steps ran faster on chunks of
    4 steps; None on PyTorch, where they ran slower (see the docs' speed page).

    Returns:
        A positive int or None.

    Example:
    >>> import keras
    >>> from keras_snnkd.backend import fold_steps
    >>> fold_steps() == {"tensorflow": 4, "jax": 4, "torch": None}[keras.backend.backend()]
    True
    """
    return _impl().FOLD_STEPS


def pools_as_mean():
    """Whether `keras_snnkd.layers.TimeFolded` computes an average pooling whose
    windows tile its input as a reshape and a mean
    (`keras_snnkd.layers.tiled_pooling`) on the running backend.

    True on PyTorch, whose ``avg_pool`` keeps its input for the backward pass;
    False on TensorFlow and JAX, whose pooling keeps nothing (see the docs' speed
    page).

    Returns:
        bool.

    Example:
    >>> import keras
    >>> from keras_snnkd.backend import pools_as_mean
    >>> pools_as_mean() == (keras.backend.backend() == "torch")
    True
    """
    return _impl().POOLS_AS_MEAN


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


def scan(step, init, xs):
    """Loops ``carry, y = step(carry, x)`` over axis 0 of ``xs`` (``jax.lax.scan``
    semantics) and returns ``(last carry, stacked ys)``.

    ``keras.ops.scan`` with a loop that also compiles, and differentiates, under
    XLA on TensorFlow (``jit_compile=True``).

    Args:
        step: callable ``(carry, x) -> (carry, y)``; carry and ``y`` are tensors
            or tuples of tensors with the same shapes at every step; ``y`` may
            be None (then ``ys`` is None).
        init: the initial carry.
        xs: tensor whose axis 0 is looped over.

    Returns:
        ``(carry, ys)``, ``ys`` stacked along a new axis 0.

    Example:
    >>> import numpy as np
    >>> from keras_snnkd.backend import scan
    >>> carry, ys = scan(lambda c, x: (c + x, c + x), np.float32(0), np.arange(4, dtype="float32"))
    >>> float(carry), np.asarray(ys).tolist()
    (6.0, [0.0, 1.0, 3.0, 6.0])
    """
    return _impl().scan(step, init, xs)


def fusion_barrier(membrane, spikes):
    """Returns ``membrane`` unchanged, as a value the compiler computes once.

    XLA (TensorFlow with ``jit_compile``, JAX) recomputes an unrolled chain of
    cheap elementwise operations in every fusion that reads it, so without a
    barrier the cost of a long unrolled neuron loop grows with ``T``² (see
    `keras_snnkd.backend.xla_fusion`). On PyTorch this is the identity.

    Args:
        membrane: the membrane potential after a time step.
        spikes: that step's 0/1 spikes, same shape, any float dtype (no
            gradient flows to them).

    Returns:
        A tensor equal to ``membrane``, bit for bit, which passes the
        upstream gradient to ``membrane`` unchanged.

    Example:
    >>> import numpy as np
    >>> from keras import ops
    >>> from keras_snnkd.backend import fusion_barrier
    >>> v = np.array([0.25, -1.5, 3.0], "float32")
    >>> ops.convert_to_numpy(fusion_barrier(v, np.array([0, 1, 0], "float32"))).tolist()
    [0.25, -1.5, 3.0]
    """
    return _impl().fusion_barrier(membrane, spikes)


def reused_region(fn):
    """Marks ``fn`` as a region that a traced step calls many times (once per
    time step) and that the compiler should compile once and reuse.

    On PyTorch this is ``torch.compiler.nested_compile_region``: ``torch.compile``
    traces a neuron's time step once per layer and input shape, instead of
    ``T`` times, and runs it as one fused kernel per step. Unrolled inline, the
    whole loop became one kernel whose compile time and step time grew faster
    than ``T`` (docs: results/speed-notes.md). On TensorFlow and JAX, and on backends
    keras_snnkd does not support, ``fn`` itself: XLA has no such region, and
    `fusion_barrier` keeps its unrolled loop linear in ``T``.

    Call it once, outside any traced function (at import): ``torch.compile``
    cannot trace the call, and it keys its cache by ``fn``'s code, so a
    closure made at every call would not be reused.

    Args:
        fn: a module-level function. Its arguments must be tensors, Python
            numbers or strings, or layers; it must not close over tensors.

    Returns:
        A callable with ``fn``'s signature and results.

    Example:
    >>> import numpy as np
    >>> from keras import ops
    >>> from keras_snnkd.backend import reused_region
    >>> def double(x):
    ...     return 2 * x
    >>> ops.convert_to_numpy(reused_region(double)(np.ones(2, "float32"))).tolist()
    [2.0, 2.0]
    """
    if keras.backend.backend() not in _MODULES:
        return fn
    return _impl().reused_region(fn)


def clear_gradients(variables):
    """Drops the gradients that PyTorch keeps on ``variables`` (``.grad = None``);
    nothing on TensorFlow and JAX, which keep none there.

    ``torch.compile`` guards on whether a weight's ``.grad`` is None, so a
    compiled training step called once without gradients and then with the
    ones the first call left compiles twice; clearing them before each call
    makes every call look like the first.

    Args:
        variables: Keras variables.

    Example:
    >>> import keras
    >>> from keras_snnkd.backend import clear_gradients
    >>> dense = keras.layers.Dense(2)
    >>> dense.build((None, 3))
    >>> clear_gradients(dense.trainable_variables)
    """
    _impl().clear_gradients(variables)
