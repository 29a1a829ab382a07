"""A ``torch.compile`` setting keras_snnkd applies under PyTorch: a compiled
region's backward pass is traced once per gradient layout, not once per time
step.

Each neuron layer's time step is a nested compile region
(`keras_snnkd.backend.reused_region`). ``torch.compile`` traces a region's
backward graph lazily and caches it by the region and the metadata of the
gradients that flow into it (``invoke_subgraph``'s lazy backward cache), and
that metadata includes each gradient's storage offset. The gradient of step
``t``'s spikes is a view into the gradient of the stacked spikes at an offset of
its own, so every time step missed the cache: at T = 32 the reference network
traced 93 backward graphs for its 3 regions, and Inductor lowered each of them
(they compiled to the same 33 C++ files, since a kernel reads its inputs from
their data pointers and the offset is not in its code).

`configure` makes that cache key, and only that one, see a tangent's storage
offset modulo the number of elements in 64 bytes. Tangents that differ only in
where they start in their storage then share one traced backward graph; the
graph is still traced from the first call's real tangents, and tangents of
another alignment still get a graph of their own (Inductor generates code for
the alignment of the inputs it was traced with). It wraps
``torch._subclasses.fake_tensor.extract_tensor_metadata``: the wrapper changes
the result only when called directly from ``InvokeSubgraphAutogradOp.backward``,
and returns it unchanged everywhere else (the fake-tensor caches included).

Reference SNN, batch 64, PyTorch alone installed, cold caches, one process
each, alternating: T = 32, first step 31.8 and 32.3 s against 45.0 and 46.2 s
without, steps of 367 and 377 ms against 362 and 371 ms, the same losses over
nine steps; T = 4, 23.4 against 23.9 s. What a step holds at T = 32 (peak RSS
with glibc's malloc defaults): 1733 and 1707 MB against 1819 and 1814 MB without
(docs: results/speed-notes.md).

`configure` leaves ``torch.compile`` alone when:

- the Keras backend is not PyTorch;
- ``KERAS_SNNKD_TORCH_REGION_OFFSETS=0`` is set (the opt-out);
- the installed PyTorch has no ``InvokeSubgraphAutogradOp.backward`` or no
  ``extract_tensor_metadata`` with a ``storage_offset`` field.

The setting holds for the whole process and every compiled region in it.
"""

import dataclasses
import importlib
import os
import sys

import keras

OPT_OUT = "KERAS_SNNKD_TORCH_REGION_OFFSETS"
ALIGNMENT_BYTES = 64
_ORIGINAL = "keras_snnkd_original"


def wanted(environ, backend):
    """True under PyTorch (``backend == "torch"``) unless ``environ`` (a mapping
    such as ``os.environ``) sets `OPT_OUT` to ``"0"``.

    Example:
    >>> from keras_snnkd.backend.torch_region_tangents import wanted
    >>> wanted({}, "torch"), wanted({"KERAS_SNNKD_TORCH_REGION_OFFSETS": "0"}, "torch"), wanted({}, "jax")
    (True, False, False)
    """
    return backend == "torch" and environ.get(OPT_OUT, "1") != "0"


def offset_key(storage_offset, itemsize):
    """What the backward cache sees of a tangent's storage offset: the offset
    modulo the number of elements in `ALIGNMENT_BYTES`, so tangents share a
    graph only when they are aligned alike.

    Args:
        storage_offset: the tangent's storage offset, in elements.
        itemsize: bytes per element.

    Returns:
        An int in ``[0, max(1, ALIGNMENT_BYTES // itemsize))``.

    Example:
    >>> from keras_snnkd.backend.torch_region_tangents import offset_key
    >>> offset_key(0, 4), offset_key(64 * 28 * 28 * 32, 4), offset_key(3, 4), offset_key(19, 4)
    (0, 0, 3, 3)
    """
    return storage_offset % max(1, ALIGNMENT_BYTES // itemsize)


def _keyed_by_alignment(extract, backward_code):
    """``extract`` (``extract_tensor_metadata``), with the storage offset replaced
    by its `offset_key` when the caller's code is ``backward_code``."""

    def extract_tensor_metadata(tensor):
        metadata = extract(tensor)
        if (sys._getframe(1).f_code is backward_code
                and isinstance(metadata.storage_offset, int)):
            metadata = dataclasses.replace(
                metadata,
                storage_offset=offset_key(metadata.storage_offset, tensor.element_size()))
        return metadata

    setattr(extract_tensor_metadata, _ORIGINAL, extract)
    return extract_tensor_metadata


def configure(environ=None):
    """Makes ``invoke_subgraph``'s backward cache key see tangents' storage
    offsets only modulo `ALIGNMENT_BYTES`, where `wanted` says so. Calling it
    again changes nothing.

    Args:
        environ: the environment to read; ``os.environ`` by default.

    Returns:
        True if the setting is in place.
    """
    environ = os.environ if environ is None else environ
    if not wanted(environ, keras.backend.backend()):
        return False
    # The module: ``from torch._higher_order_ops import invoke_subgraph`` gives the
    # operator of that name.
    region_module = importlib.import_module("torch._higher_order_ops.invoke_subgraph")
    from torch._subclasses import fake_tensor

    autograd_op = getattr(region_module, "InvokeSubgraphAutogradOp", None)
    backward = getattr(autograd_op, "backward", None)
    extract = getattr(fake_tensor, "extract_tensor_metadata", None)
    metadata = getattr(fake_tensor, "TensorMetadata", None)
    if (backward is None or extract is None or not dataclasses.is_dataclass(metadata)
            or "storage_offset" not in {f.name for f in dataclasses.fields(metadata)}):
        return False
    if not hasattr(extract, _ORIGINAL):
        fake_tensor.extract_tensor_metadata = _keyed_by_alignment(extract, backward.__code__)
    return True
