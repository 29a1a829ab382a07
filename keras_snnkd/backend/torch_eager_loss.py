"""A ``torch.compile`` setting keras_snnkd applies under PyTorch: Keras's loss,
loss tracker and metrics run as plain PyTorch in a compiled training step.

With Keras's ``train_step`` run as plain Python (`keras_snnkd.backend.torch_compile`),
Dynamo compiles each call the step makes as a graph of its own: the model's
forward pass, the loss, the loss tracker's update, the optimizer update and the
metrics. The loss and the metrics work on tensors of the output's size (a
``(batch, classes)`` array and a few scalars), where compiling saves nothing a
step can measure, but each graph pays a compile's fixed costs: Dynamo,
AOTAutograd, Inductor and at least one C++ file (0.4 s of which is loading
Inductor's precompiled header), and the loss pays them again for its backward
graph. `configure` marks the code of Keras's ``Trainer._compute_loss``,
``Trainer.compute_metrics`` and the loss tracker's ``Mean.update_state`` as
frames Dynamo skips together with every frame they call (what
``torch.compiler.disable`` does to a function it wraps;
`keras_snnkd.backend.torch_compile.skip_frames`), so they run as plain PyTorch,
autograd included.

Reference SNN, batch 64, PyTorch alone installed, cold caches, one process each,
compiled -> plain PyTorch alternating (two pairs): first step at T = 4 24.3, 25.9
-> 20.3, 19.7 s, at T = 32 33.3, 33.4 -> 28.5, 29.3 s; median steps 57-60 -> 59
ms and 415-429 -> 418-419 ms (docs: results/speed-notes.md). Per frame, the loss took
1.6 s, the loss tracker's update and the metrics 0.8-0.9 s each, the loss's
backward the rest. The losses agree to 1e-6 over 21 steps at T = 4; at T = 32
rounding differences flip spikes after 11 steps, and the runs drift apart by up
to 0.004. The optimizer update stays compiled: run as plain PyTorch, it makes
several passes over every weight where the compiled one fuses them.

The marks act where one of these functions is a frame of its own: called from
code that runs as plain Python, or after a graph break. Where Dynamo inlines it
into a graph it compiles (Keras's test step on tensors, the `Distiller`'s
step), it is compiled with that graph as before. In a probe where Keras's test
step broke its graph ahead of the loss and the metrics (NumPy batches), they ran
as plain PyTorch there too, and the first evaluation call took 12.6 s instead of
18.6 s with the same logs.

`configure` leaves ``torch.compile`` alone when:

- the Keras backend is not PyTorch;
- ``KERAS_SNNKD_TORCH_EAGER_LOSS=0`` is set (the opt-out);
- the installed PyTorch has no way to set a frame strategy
  (``torch._dynamo.eval_frame.set_code_exec_strategy``).

The setting holds for the whole process and every Keras model in it.
"""

import os

import keras

from keras_snnkd.backend.torch_compile import skip_frames

OPT_OUT = "KERAS_SNNKD_TORCH_EAGER_LOSS"


def wanted(environ, backend):
    """Whether to run Keras's loss and metrics as plain PyTorch in a process with
    ``environ``.

    Args:
        environ: mapping with the process environment.
        backend: the Keras backend name.

    Returns:
        True under PyTorch unless opted out.

    Example:
    >>> from keras_snnkd.backend.torch_eager_loss import wanted
    >>> wanted({}, "torch"), wanted({"KERAS_SNNKD_TORCH_EAGER_LOSS": "0"}, "torch"), wanted({}, "jax")
    (True, False, False)
    """
    return backend == "torch" and environ.get(OPT_OUT, "1") != "0"


def eager_codes():
    """The code objects `configure` marks: Keras's ``Trainer._compute_loss`` and
    ``Trainer.compute_metrics``, and ``Mean.update_state`` (Keras's loss tracker
    is a ``Mean``); those this Keras has."""
    from keras.src.trainers.trainer import Trainer

    functions = [getattr(Trainer, "_compute_loss", None), Trainer.compute_metrics,
                 keras.metrics.Mean.update_state]
    return [f.__code__ for f in functions if f is not None]


def configure(environ=None):
    """Makes Keras's loss, loss tracker and metrics (`eager_codes`) run as plain
    PyTorch where `wanted` says so.

    Args:
        environ: the environment to read; ``os.environ`` by default.

    Returns:
        True if the frames were marked.
    """
    environ = os.environ if environ is None else environ
    return wanted(environ, keras.backend.backend()) and skip_frames(eager_codes(), callees=True)
