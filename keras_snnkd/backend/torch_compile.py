"""A ``torch.compile`` setting keras_snnkd applies under PyTorch: Dynamo skips
the frames of Keras's ``train_step`` and of the wrapper around it, and compiles
what they call.

With ``jit_compile=True`` Keras compiles ``one_step_on_data``, a two-line
wrapper that calls ``self.train_step(data)``, and its ``train_step`` calls the
model, ``zero_grad()``, the loss, ``loss.backward()`` and the optimizer. Traced
as one frame, that costs twice:

- ``loss.backward()`` cannot be traced (a graph break). Dynamo restarts at a
  graph break to cut the graph there: the forward pass is traced again, once
  more when the break lies in an inlined function (``train_step`` inlined into
  the wrapper).
- ``zero_grad()`` reads ``p.grad is not None`` for every weight. No weight has
  a gradient at the first call and all have at the second, so the guards fail
  and Dynamo compiles the whole step again at the second call.

Marking both frames as frames to skip (not their callees:
``torch.compiler.disable(recursive=False)`` semantics) runs them as plain
Python, and Dynamo compiles each call they make as a frame of its own: the
model's forward pass (its backward compiled with it), the loss, the optimizer
update, the metrics (`keras_snnkd.backend.torch_eager_loss` then runs the loss
and the metrics as plain PyTorch). ``backward()`` then runs between compiled frames, no
compiled frame holds ``zero_grad()``'s guards, and nothing is compiled again
at later calls. Reference SNN, batch 64, PyTorch alone installed,
cold caches, skipping both frames -> the wrapper alone: T = 4, first step 35.7
-> 36.3 s, second step 0.07 -> 24.8 s, peak RSS 742 -> 756 MB; T = 32, first
step 60.4 -> 67.3 s, second step 0.49 -> 53.3 s, peak RSS 2143 -> 2439 MB;
step times alike (docs: results/speed-notes.md).

`configure` leaves ``torch.compile`` alone when:

- the Keras backend is not PyTorch;
- ``KERAS_SNNKD_TORCH_COMPILE_FRAME=0`` is set (the opt-out);
- the installed PyTorch has no way to set a frame's strategy
  (``torch._dynamo.eval_frame.set_code_exec_strategy``).

Where the installed Keras has no ``one_step_on_data`` wrapper, only
``train_step`` is skipped (a test notices the change). A model that overrides
``train_step`` keeps its own frame compiled. The `Distiller`'s ``train_step``,
which calls the backend's step (where the ``backward()`` is), is skipped the
same way (`skip_own_frame`).

The setting holds for the whole process and every Keras model in it.
"""

import os
import types

import keras

OPT_OUT = "KERAS_SNNKD_TORCH_COMPILE_FRAME"
WRAPPER = "one_step_on_data"


def wanted(environ, backend):
    """Whether to skip Keras's training-step frames in a process with ``environ``.

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


def step_codes():
    """The code objects `configure` marks: Keras's wrapper (`wrapper_codes`)
    and Keras's own PyTorch ``train_step``. Imports PyTorch."""
    from keras.src.backend.torch.trainer import TorchTrainer

    return wrapper_codes() + [TorchTrainer.train_step.__code__]


def skip_frames(codes, callees=False):
    """Marks each code object as a frame Dynamo skips. Its callees are still
    compiled (``torch.compiler.disable(recursive=False)`` semantics), or with
    ``callees`` skipped too (``torch.compiler.disable``'s). Imports PyTorch.

    Args:
        codes: code objects.
        callees: whether the frames each one calls are skipped as well.

    Returns:
        False where this PyTorch has no way to set a frame's strategy
        (``torch._dynamo.eval_frame.set_code_exec_strategy``) or there is
        nothing to mark; else True.
    """
    from torch._dynamo import eval_frame
    from torch._dynamo import types as dynamo_types

    set_strategy = getattr(eval_frame, "set_code_exec_strategy", None)
    if set_strategy is None or not hasattr(dynamo_types, "FrameExecStrategy") or not codes:
        return False
    action = dynamo_types.FrameAction
    strategy = dynamo_types.FrameExecStrategy(
        action.SKIP, action.SKIP if callees else action.DEFAULT)
    for code in codes:
        set_strategy(code, strategy)
    return True


def configure(environ=None):
    """Makes Dynamo skip the frames of Keras's training-step wrapper and of its
    ``train_step`` (those frames only; `step_codes`) where `wanted` says so.

    Args:
        environ: the environment to read; ``os.environ`` by default.

    Returns:
        True if the frames were marked.
    """
    environ = os.environ if environ is None else environ
    return wanted(environ, keras.backend.backend()) and skip_frames(step_codes())


def skip_own_frame(fn):
    """Decorator: under PyTorch, unless opted out (`wanted`), Dynamo skips
    ``fn``'s own frame and compiles the functions it calls, so a training step
    that calls the function holding its ``backward()`` (the `Distiller`'s) is
    compiled from that function on.

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
        skip_frames([fn.__code__])
    return fn
