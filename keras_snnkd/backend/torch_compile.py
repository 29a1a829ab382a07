"""A ``torch.compile`` setting keras_snnkd applies under PyTorch: the compiled
training step starts at ``train_step``, one frame below Keras's wrapper.

With ``jit_compile=True`` Keras compiles ``one_step_on_data``, a two-line
wrapper that calls ``self.train_step(data)``. Dynamo inlines ``train_step``
into it and meets ``loss.backward()``, which it cannot trace (a graph break).
A graph break inside an inlined function makes Dynamo throw the wrapper's
trace away and start again, the forward pass traced once more for each
frame it then compiles. Marking the wrapper's code as a frame to skip (not
its callees: ``torch.compiler.disable(recursive=False)`` semantics) makes
``train_step`` the first compiled frame, with the same graphs and the same
compiled steps, one trace of the forward pass sooner. Reference SNN, batch
64, cold caches, first step with -> without, four processes alternating at
T = 4: 43.4 and 44.6 s -> 51.6 and 56.2 s (the thrown-away trace took 7.0
and 8.7 s of the latter); in the benchmark's workers, T = 4 44.2 -> 48.3 s
and T = 32 74.9 -> 91.3 s. The losses, the step times and Keras's second
compile at the second step are unchanged (docs: results/speed.md).

`configure` leaves ``torch.compile`` alone when:

- the Keras backend is not PyTorch;
- ``KERAS_SNNKD_TORCH_COMPILE_FRAME=0`` is set (the opt-out);
- the installed Keras has no ``one_step_on_data`` in its PyTorch trainer's
  ``make_train_function``, or the installed PyTorch no
  ``torch._dynamo.eval_frame.skip_code``.

The `Distiller`'s ``train_step``, which calls the backend's step (where the
``backward()`` is), is skipped the same way (`skip_own_frame`).

The setting holds for the whole process and every Keras model in it.
"""

import os
import types

import keras

OPT_OUT = "KERAS_SNNKD_TORCH_COMPILE_FRAME"
WRAPPER = "one_step_on_data"


def wanted(environ, backend):
    """Whether to skip Keras's wrapper frame in a process with ``environ``.

    Args:
        environ: mapping with the process environment.
        backend: the Keras backend name.

    Returns:
        True under PyTorch unless opted out.

    Example:
    >>> from keras_snnkd.backend.torch_compile import wanted
    >>> wanted({}, "torch"), wanted({"KERAS_SNNKD_TORCH_COMPILE_FRAME": "0"}, "torch"), wanted({}, "jax")
    (True, False, False)
    """
    return backend == "torch" and environ.get(OPT_OUT, "1") != "0"


def wrapper_codes():
    """The code objects of the training-step wrappers Keras's PyTorch trainer
    compiles (``one_step_on_data`` in ``make_train_function``); empty where this
    Keras has none. Imports PyTorch."""
    from keras.src.backend.torch.trainer import TorchTrainer

    consts = TorchTrainer.make_train_function.__code__.co_consts
    return [c for c in consts if isinstance(c, types.CodeType) and c.co_name == WRAPPER]


def _skip(codes):
    """Marks each code object as a frame Dynamo skips (its callees are still
    compiled); False where this PyTorch has no way to, or there is nothing to mark."""
    from torch._dynamo import eval_frame

    skip_code = getattr(eval_frame, "skip_code", None)
    if skip_code is None or not codes:
        return False
    for code in codes:
        skip_code(code)
    return True


def configure(environ=None):
    """Makes Dynamo skip Keras's training-step wrapper frame (and only that
    frame) where `wanted` says so.

    Args:
        environ: the environment to read; ``os.environ`` by default.

    Returns:
        True if a wrapper was marked.
    """
    environ = os.environ if environ is None else environ
    return wanted(environ, keras.backend.backend()) and _skip(wrapper_codes())


def skip_own_frame(fn):
    """Decorator: under PyTorch, unless opted out (`wanted`), Dynamo skips
    ``fn``'s own frame and compiles the functions it calls, so a training step
    that calls the function holding its ``backward()`` (the `Distiller`'s) is
    compiled from that function on, as Keras's is.

    Args:
        fn: a function or method.

    Returns:
        ``fn`` itself.

    Example:
    >>> from keras_snnkd.backend.torch_compile import skip_own_frame
    >>> @skip_own_frame
    ... def step(x):
    ...     return x + 1
    >>> step(1)
    2
    """
    if wanted(os.environ, keras.backend.backend()):
        _skip([fn.__code__])
    return fn
