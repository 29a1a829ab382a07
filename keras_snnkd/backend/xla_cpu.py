"""XLA:CPU options keras_snnkd turns on under JAX: convolutions through YNNPACK.

XLA's own CPU convolutions compute the kernel gradient of a 3x3 convolution
slowly: at ``(256, 14, 14, 32) -> 64`` channels it took 129 ms against 19 ms
for TensorFlow's oneDNN kernel on the same machine, and it dominated JAX's
training step. ``--xla_cpu_experimental_ynn_fusion_type=dot`` runs XLA's
convolutions and dots through YNNPACK instead (kernel gradient 24 ms; reference
SNN training step at T = 4, batch 64: 238 -> 101 ms; gradients equal to
1e-5 relative). XLA reads its flags once, from ``XLA_FLAGS``, when JAX makes
its first computation, so `configure` runs when keras_snnkd is imported.

`configure` leaves ``XLA_FLAGS`` alone when:

- the Keras backend is not JAX;
- ``XLA_FLAGS`` already names the flag (your own setting wins);
- ``KERAS_SNNKD_XLA_CPU_FLAGS=0`` is set (the opt-out);
- the installed jaxlib is outside the releases known to accept the flag
  (`JAXLIB_RELEASES`): XLA aborts the process on a flag it does not know;
- an installed TensorFlow is older than `TENSORFLOW_MIN`: TensorFlow's XLA
  reads the same ``XLA_FLAGS`` when it compiles (``jit_compile=True``).

Child processes inherit the changed ``XLA_FLAGS``. If JAX has already computed
something when keras_snnkd is imported, the flag is set but has no effect in
this process: import keras_snnkd first, or set ``XLA_FLAGS`` yourself.
"""

import importlib.metadata
import os
import re

import keras

FLAG = "--xla_cpu_experimental_ynn_fusion_type"
VALUE = "dot"
OPT_OUT = "KERAS_SNNKD_XLA_CPU_FLAGS"
# First jaxlib with the flag (0.8.0 lacks it), first release not yet checked.
JAXLIB_RELEASES = ((0, 9), (0, 11))
# TensorFlow releases checked to know the flag.
TENSORFLOW_MIN = (2, 21)


def _release(version):
    """``"0.10.2rc1"`` -> ``(0, 10)``; None for None or an unparsable version."""
    match = re.match(r"(\d+)\.(\d+)", version or "")
    return (int(match[1]), int(match[2])) if match else None


def _installed(distribution):
    """The installed version of ``distribution``, or None."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def updated_xla_flags(environ, backend, installed=_installed):
    """The ``XLA_FLAGS`` value that turns YNNPACK on, or None to leave it alone.

    Args:
        environ: mapping with the process environment.
        backend: the Keras backend name.
        installed: ``distribution name -> version string or None``; asked only
            under JAX (package metadata lookups cost milliseconds at import).

    Returns:
        The new ``XLA_FLAGS`` string, or None (see the module docstring for
        when).

    Example:
    >>> from keras_snnkd.backend.xla_cpu import updated_xla_flags
    >>> updated_xla_flags({}, "jax", {"jaxlib": "0.10.2"}.get)
    '--xla_cpu_experimental_ynn_fusion_type=dot'
    >>> opted_out = {"KERAS_SNNKD_XLA_CPU_FLAGS": "0"}
    >>> updated_xla_flags(opted_out, "jax", {"jaxlib": "0.10.2"}.get) is None
    True
    """
    flags = environ.get("XLA_FLAGS", "")
    if backend != "jax" or FLAG in flags or environ.get(OPT_OUT, "1") == "0":
        return None
    jaxlib = _release(installed("jaxlib"))
    if jaxlib is None or not JAXLIB_RELEASES[0] <= jaxlib < JAXLIB_RELEASES[1]:
        return None
    tensorflow_version = installed("tensorflow") or installed("tensorflow-cpu")
    tensorflow = _release(tensorflow_version)
    if tensorflow_version is not None and (tensorflow is None or tensorflow < TENSORFLOW_MIN):
        return None
    return f"{flags} {FLAG}={VALUE}".strip()


def configure(environ=None):
    """Adds the YNNPACK flag to ``XLA_FLAGS`` where `updated_xla_flags` says so.

    Args:
        environ: the environment to update; ``os.environ`` by default.

    Returns:
        True if ``XLA_FLAGS`` was changed.
    """
    environ = os.environ if environ is None else environ
    flags = updated_xla_flags(environ, keras.backend.backend())
    if flags is None:
        return False
    environ["XLA_FLAGS"] = flags
    return True
