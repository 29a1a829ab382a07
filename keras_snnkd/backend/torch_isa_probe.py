"""A ``torch.compile`` setting keras_snnkd applies under PyTorch on a CPU-only
machine: TorchInductor's probe of the CPU's vector instructions runs in a
background thread from the first compile on, while Dynamo traces.

Before it generates its first C++ kernel, Inductor finds the vector instruction
sets that both the CPU and the C++ compiler support
(``torch._inductor.cpu_vec_isa.valid_vec_isa_list``): for each set the CPU
reports (four on an AVX-512 CPU with AMX) it compiles a small C++ file and loads
it in a child Python. In an empty Inductor cache that took 8.1-8.3 s on a 2-core
CPU, and 1.3 s with the compiled files cached (the child processes still run),
all in the main thread, after Dynamo and AOTAutograd have traced the step. The
answer does not depend on the program being compiled, so `configure` registers
a Dynamo compile-start callback that runs the same function in a daemon thread
at the first compile of the process. When Inductor asks, the answer is cached
(the function is a ``functools.cache``); if it asks before the thread is done,
it runs the checks itself, which wait on the thread's file locks and reuse its
compiled files.

Reference SNN, batch 64, one process each with an empty cache folder, then a
rerun with it, off -> on alternating (two pairs): first step at T = 4 34.1, 34.5
-> 29.6, 29.6 s (rerun 11.3, 11.4 -> 10.6, 10.6 s); at T = 32 60.9, 60.8 ->
52.9, 53.8 s (rerun 23.5, 24.7 -> 21.8, 22.3 s); the same compiled kernels
(docs: results/speed-notes.md).

`configure` leaves ``torch.compile`` alone when:

- the Keras backend is not PyTorch;
- ``KERAS_SNNKD_TORCH_ISA_PROBE=0`` is set (the opt-out);
- PyTorch sees a CUDA device (GPU kernels need no CPU vector instructions);
- the installed PyTorch has no Dynamo compile-start callbacks.
"""

import os
import threading

import keras

from keras_snnkd.backend import dynamo_callbacks

OPT_OUT = "KERAS_SNNKD_TORCH_ISA_PROBE"

_lock = threading.Lock()
_threads = []


def wanted(environ, backend, cuda):
    """Whether to probe in the background in a process with ``environ``.

    Args:
        environ: mapping with the process environment.
        backend: the Keras backend name.
        cuda: whether PyTorch sees a CUDA device.

    Returns:
        True under PyTorch on a CPU-only machine unless opted out.

    Example:
    >>> from keras_snnkd.backend.torch_isa_probe import wanted
    >>> wanted({}, "torch", False), wanted({}, "torch", True), wanted({}, "jax", False)
    (True, False, False)
    """
    return backend == "torch" and not cuda and environ.get(OPT_OUT, "1") != "0"


def _probe():
    from torch._inductor import cpu_vec_isa

    try:
        cpu_vec_isa.valid_vec_isa_list()
    except Exception:  # noqa: BLE001 - Inductor's own call, in the main thread, raises it
        pass


def _start(_callback_args=None):
    """Dynamo's compile-start callback: starts the probe, once per process."""
    with _lock:
        if not _threads:
            thread = threading.Thread(target=_probe, name="keras_snnkd-isa-probe",
                                      daemon=True)
            thread.start()
            _threads.append(thread)


def probe_thread():
    """The background probe's thread, or None before the first compile (or
    where `configure` did nothing)."""
    return _threads[0] if _threads else None


def configure(environ=None):
    """Registers the background probe to start at Dynamo's first compile, where
    `wanted` says so.

    Args:
        environ: the environment to read; ``os.environ`` by default.

    Returns:
        True if the callback was registered.
    """
    environ = os.environ if environ is None else environ
    if keras.backend.backend() != "torch":
        return False
    import torch

    if not wanted(environ, "torch", torch.cuda.is_available()):
        return False
    return dynamo_callbacks.on_compile_start(_start)
