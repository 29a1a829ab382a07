"""A compiled neuron step's backward graph is traced once per gradient layout,
not once per time step (keras_snnkd.backend.torch_region_tangents)."""

import json

import keras
import pytest

from conftest import TORCH_COMPILE_ONLY, run_python
from keras_snnkd.backend import torch_region_tangents


@pytest.mark.parametrize("environ, backend, expected", [
    ({}, "torch", True),
    ({torch_region_tangents.OPT_OUT: "1"}, "torch", True),
    ({torch_region_tangents.OPT_OUT: "0"}, "torch", False),
    ({}, "tensorflow", False),
    ({}, "jax", False),
])
def test_wanted_under_pytorch_unless_opted_out(environ, backend, expected):
    assert torch_region_tangents.wanted(environ, backend) is expected


@pytest.mark.parametrize("itemsize", [1, 2, 4, 8])
def test_offset_key_keeps_the_alignment_and_nothing_else(itemsize):
    per_line = torch_region_tangents.ALIGNMENT_BYTES // itemsize
    for offset in range(3 * per_line):
        key = torch_region_tangents.offset_key(offset, itemsize)
        assert 0 <= key < per_line
        assert key == torch_region_tangents.offset_key(offset + 5 * per_line, itemsize)
        # Same key, same alignment (in bytes, modulo the alignment).
        assert key * itemsize == offset * itemsize % torch_region_tangents.ALIGNMENT_BYTES


def test_configure_does_nothing_when_opted_out():
    assert torch_region_tangents.configure({torch_region_tangents.OPT_OUT: "0"}) is False


@pytest.mark.skipif(keras.backend.backend() == "torch", reason="the other backends' leg")
def test_configure_does_nothing_off_pytorch():
    assert torch_region_tangents.configure({}) is False


@TORCH_COMPILE_ONLY
def test_configure_wraps_once_and_changes_no_other_callers_metadata():
    import torch
    from torch._subclasses import fake_tensor

    wrapper = fake_tensor.extract_tensor_metadata  # import keras_snnkd configured it
    assert torch_region_tangents.configure() is True
    assert fake_tensor.extract_tensor_metadata is wrapper
    original = getattr(wrapper, torch_region_tangents._ORIGINAL)
    assert not hasattr(original, torch_region_tangents._ORIGINAL)
    view = torch.zeros(64)[19:]
    assert wrapper(view).storage_offset == original(view).storage_offset == 19


# A LIF layer over 9 steps of 16 float32 features (every step's gradient starts
# at a multiple of 64 bytes), compiled with AOTAutograd and no Inductor (its
# graphs run as traced), against eager PyTorch. Records the suffix of each
# backward graph invoke_subgraph's lazy backward cache adds: 0 for the first
# graph of a region, 1 for its second, ...
REGION_BACKWARDS = """
import json, os
{setting}
import numpy as np, torch, keras
import keras_snnkd
import torch._guards
from keras_snnkd.neurons import LIF

suffixes = []
add = torch._guards.InvokeSubgraphCache.add_lazy_bwd_entry
def recording(self, identifier, tangent_metadata, gmod):
    suffix = add(self, identifier, tangent_metadata, gmod)
    suffixes.append(suffix)
    return suffix
torch._guards.InvokeSubgraphCache.add_lazy_bwd_entry = recording

layer = LIF(beta=0.9, trainable_threshold=True)
x0 = np.random.default_rng(0).normal(1.0, 1.0, size=(2, 9, 16)).astype("float32")
layer(keras.ops.convert_to_tensor(x0))
weights = torch.linspace(-1.0, 1.0, x0.size).reshape(x0.shape)

def grads(x):
    x = x.detach().requires_grad_(True)
    loss = torch.sum(layer(x) * weights)
    return torch.autograd.grad(loss, [x] + [w.value for w in layer.trainable_weights])

x = torch.from_numpy(x0)
eager = grads(x)
compiled = torch.compile(grads, backend="aot_eager")(x)
print(json.dumps({{
    "suffixes": suffixes,
    "nonzero": [int(torch.count_nonzero(g)) for g in eager],
    "max_error": max(float((c - e).abs().max()) for c, e in zip(compiled, eager)),
}}))
"""


def region_backwards(opt_out):
    setting = f"os.environ[{torch_region_tangents.OPT_OUT!r}] = '0'" if opt_out else ""
    out = run_python(REGION_BACKWARDS.format(setting=setting), "torch")
    return json.loads(out.strip().splitlines()[-1])


@TORCH_COMPILE_ONLY
def test_each_region_traces_one_backward_and_gradients_stay_eagers():
    traced = region_backwards(opt_out=False)
    # Every region traced its backward graph once (suffix 0 only).
    assert traced["suffixes"] and set(traced["suffixes"]) == {0}
    assert all(n > 0 for n in traced["nonzero"]) and len(traced["nonzero"]) >= 2
    assert traced["max_error"] <= 1e-5
    # Opted out, every step's gradient (another offset) traced a graph of its own.
    opted_out = region_backwards(opt_out=True)
    assert max(opted_out["suffixes"]) >= 6
    assert opted_out["max_error"] <= 1e-5
