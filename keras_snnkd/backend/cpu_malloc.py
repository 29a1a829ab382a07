"""glibc malloc settings keras_snnkd applies on import: large tensors reuse memory.

glibc's ``malloc`` serves a request above its mmap threshold (which it moves
up to at most 32 MiB) with fresh pages from the kernel and gives them back on
``free``. The next training step then allocates its activations again, and
the kernel faults in and zeroes every page of them again. A convolutional
SNN's activations at ``batch * T`` are such blocks (reference network, first
layer: 26 MB at T = 4, batch 64; 205 MB at T = 32), and TensorFlow, XLA and
PyTorch all take them from ``malloc``. Raising the mmap threshold to 1 GiB
keeps them in malloc's heap, where freed blocks are reused. Reference SNN
training step, one probe each (ms, default -> raised):

| backend | T = 4 | T = 32 |
|---|---|---|
| TensorFlow (XLA) | 93 -> 72 | 898 -> 629 |
| JAX | 106 -> 85 | |
| PyTorch (torch.compile) | 147 -> 104 | |

The trim threshold is raised with it (to 2 GiB), or ``free`` would hand the
top of the heap back to the kernel after each step just the same. The cost:
memory freed by the process stays mapped to it (its resident size does not
shrink after a large step) until it is reused.

`configure` leaves malloc alone when:

- the C library is not glibc (macOS, musl: their allocators work differently);
- ``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_`` or a
  ``glibc.malloc.mmap_threshold`` / ``trim_threshold`` tunable in
  ``GLIBC_TUNABLES`` is set (your own setting wins);
- ``KERAS_SNNKD_MALLOC=0`` is set (the opt-out).

The settings hold for the whole process, from the import on.
"""

import ctypes
import os

OPT_OUT = "KERAS_SNNKD_MALLOC"
# mallopt parameters (malloc.h) and the values set.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 1 << 30
TRIM_THRESHOLD = (1 << 31) - 1
_USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
_USER_TUNABLES = ("glibc.malloc.mmap_threshold", "glibc.malloc.trim_threshold")


def libc_name():
    """``"glibc"`` in a process running on glibc, else the C library's name or ``""``."""
    try:
        return os.confstr("CS_GNU_LIBC_VERSION").split()[0]
    except (AttributeError, ValueError, OSError, IndexError):
        return ""


def wanted(environ, libc):
    """Whether to raise malloc's thresholds in a process with ``environ``.

    Args:
        environ: mapping with the process environment.
        libc: the C library's name (`libc_name` gives this process's).

    Returns:
        True where `configure` changes malloc (see the module docstring).

    Example:
    >>> from keras_snnkd.backend.cpu_malloc import wanted
    >>> wanted({}, "glibc"), wanted({"KERAS_SNNKD_MALLOC": "0"}, "glibc"), wanted({}, "")
    (True, False, False)
    """
    if libc != "glibc" or environ.get(OPT_OUT, "1") == "0":
        return False
    tunables = environ.get("GLIBC_TUNABLES", "")
    return not (any(name in environ for name in _USER_SETTINGS)
                or any(name in tunables for name in _USER_TUNABLES))


def configure(environ=None):
    """Raises glibc malloc's mmap and trim thresholds where `wanted` says so.

    Args:
        environ: the environment to read; ``os.environ`` by default.

    Returns:
        True if both thresholds were set.
    """
    environ = os.environ if environ is None else environ
    if not wanted(environ, libc_name()):
        return False
    mallopt = ctypes.CDLL(None).mallopt  # the C library this process runs on
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
