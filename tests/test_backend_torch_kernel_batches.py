"""Inductor's C++ kernels compile in one file per compile worker, not one per
kernel (keras_snnkd.backend.torch_kernel_batches)."""

import json

import keras
import pytest

from conftest import TORCH_COMPILE_ONLY, run_python
from keras_snnkd.backend import torch_kernel_batches

KERNEL = '''
#include <torch/csrc/inductor/cpp_prefix.h>
extern "C"  void  kernel(const float* in_ptr0,
                       float* out_ptr0,
                       const int64_t ks0)
{
    for (int64_t i = 0; i < ks0; ++i)
    {
        out_ptr0[i] = in_ptr0[i] * SCALE;
    }
}
'''
ARGTYPES = ["const float*", "float*", "const int64_t"]


@pytest.mark.parametrize("environ, backend, expected", [
    ({}, "torch", True),
    ({torch_kernel_batches.OPT_OUT: "1"}, "torch", True),
    ({torch_kernel_batches.OPT_OUT: "0"}, "torch", False),
    ({}, "tensorflow", False),
    ({}, "jax", False),
])
def test_wanted_under_pytorch_unless_opted_out(environ, backend, expected):
    assert torch_kernel_batches.wanted(environ, backend) is expected


@pytest.mark.parametrize("argtypes, source, expected", [
    (ARGTYPES, KERNEL, True),
    (["float*", "long"], KERNEL, False),  # `long`: not a type the bindings parse
    (["double"], KERNEL, False),
    (ARGTYPES, KERNEL + "static int helper() { return 1; }\n", False),
    (ARGTYPES, KERNEL + KERNEL, False),  # two entry functions
    (ARGTYPES, KERNEL.replace("kernel(", "other("), False),  # no entry function
    (ARGTYPES, "// a comment\n#include <x.h>\n" + KERNEL, True),
])
def test_batchable_takes_only_plain_kernels(argtypes, source, expected):
    assert torch_kernel_batches.batchable(argtypes, source) is expected


def test_batched_source_renames_each_entry_and_binds_them_all():
    code = torch_kernel_batches.batched_source([(ARGTYPES, KERNEL), (ARGTYPES[:2], KERNEL)])
    assert code.count('extern "C" void kernel_0(') == 1
    assert code.count('extern "C" void kernel_1(') == 1
    assert " kernel(" not in code
    assert '{"kernel_0", kernel_0_py' in code and '{"kernel_1", kernel_1_py' in code
    assert "PyInit_kernel(void)" in code
    assert code.count('requires 3 args') == 1 and code.count('requires 2 args') == 1


@pytest.mark.parametrize("sizes, count", [
    ([5, 1, 1, 3, 2], 2), ([1] * 7, 3), ([4], 2), ([3, 3], 1), (list(range(1, 15)), 2),
])
def test_groups_cover_every_kernel_once_in_order_and_balance_sizes(sizes, count):
    split = torch_kernel_batches.groups(sizes, count)
    assert len(split) == min(count, len(sizes))
    assert sorted(i for group in split for i in group) == list(range(len(sizes)))
    assert all(group == sorted(group) for group in split)
    loads = [sum(sizes[i] for i in group) for group in split]
    assert max(loads) - min(loads) <= max(sizes)
    assert split == torch_kernel_batches.groups(sizes, count)  # deterministic


def test_configure_does_nothing_when_opted_out():
    assert torch_kernel_batches.configure({torch_kernel_batches.OPT_OUT: "0"}) is False


@pytest.mark.skipif(keras.backend.backend() == "torch", reason="the other backends' leg")
def test_configure_does_nothing_off_pytorch():
    assert torch_kernel_batches.configure({}) is False


@TORCH_COMPILE_ONLY
def test_install_wraps_once():
    from torch._inductor.async_compile import AsyncCompile

    assert torch_kernel_batches.install() is True
    wrapped = AsyncCompile.cpp_pybinding, AsyncCompile.wait
    assert torch_kernel_batches.install() is True
    assert (AsyncCompile.cpp_pybinding, AsyncCompile.wait) == wrapped
    original = getattr(AsyncCompile.cpp_pybinding, torch_kernel_batches._ORIGINAL)
    assert not hasattr(original, torch_kernel_batches._ORIGINAL)


# Two kernels in one file, compiled by Inductor's code cache with its flags and
# precompiled header, then called through the bindings.
BINDINGS = """
import json, os, tempfile
os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp()
import torch
from torch._inductor.codecache import CppPythonBindingsCodeCache
from keras_snnkd.backend import torch_kernel_batches

kernel = {kernel!r}
code = torch_kernel_batches.batched_source(
    [({argtypes!r}, kernel.replace("SCALE", "2.0f")),
     ({argtypes!r}, kernel.replace("SCALE", "3.0f"))])
module = CppPythonBindingsCodeCache.load_async(code, "cpu")()
x = torch.arange(6, dtype=torch.float32)
outs = [torch.zeros(6), torch.zeros(6)]
module.kernel_0(x, outs[0], 4)
module.kernel_1(x, outs[1], 6)
errors = []
for args in [(x, outs[0]), (x, outs[0], "four")]:
    try:
        module.kernel_0(*args)
    except RuntimeError as e:
        errors.append(str(e))
print(json.dumps({{"outs": [o.tolist() for o in outs], "errors": errors}}))
"""


@TORCH_COMPILE_ONLY
def test_batched_kernels_compile_and_run_through_their_bindings():
    out = run_python(BINDINGS.format(kernel=KERNEL, argtypes=ARGTYPES), "torch")
    result = json.loads(out.strip().splitlines()[-1])
    assert result["outs"] == [[0, 2, 4, 6, 0, 0], [0, 3, 6, 9, 12, 15]]
    assert result["errors"] == ["requires 3 args", "a scalar argument has the wrong type"]


# A function Inductor splits into several kernels, dynamic shapes (kernels with
# int64 size arguments), compiled with two workers in an empty cache folder;
# records, for each C++ file compiled, how many batched kernels it holds.
COMPILED = """
import json, os, tempfile
os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp()
os.environ["TORCHINDUCTOR_COMPILE_THREADS"] = "2"
{setting}
import torch
import keras_snnkd
from torch._inductor.codecache import CppPythonBindingsCodeCache

batches = []
load_async = CppPythonBindingsCodeCache.load_async.__func__
def recording(cls, main_code, *args, **kwargs):
    batches.append(main_code.count('extern "C" void kernel_'))
    return load_async(cls, main_code, *args, **kwargs)
CppPythonBindingsCodeCache.load_async = classmethod(recording)

def f(x, y):
    a = torch.softmax(x, dim=0) * y.sum()
    b = torch.cumsum(x, dim=1) - x.mean(dim=0)
    c = torch.cat([a, b], dim=0).amax(dim=1)
    return a.T @ b, c.exp().sum(), (x.sigmoid() * 2).sum(dim=1)

gen = torch.Generator().manual_seed(0)
outs = []
for rows in (8, 11):
    x, y = torch.randn(rows, 5, generator=gen), torch.randn(rows, generator=gen)
    compiled = torch.compile(f, dynamic=True)(x, y)
    eager = f(x, y)
    outs.append(max(float((c - e).abs().max()) for c, e in zip(compiled, eager)))
print(json.dumps({{"batches": batches, "max_error": max(outs)}}))
"""


def compiled_batches(opt_out):
    setting = f"os.environ[{torch_kernel_batches.OPT_OUT!r}] = '0'" if opt_out else ""
    out = run_python(COMPILED.format(setting=setting), "torch")
    return json.loads(out.strip().splitlines()[-1])


@TORCH_COMPILE_ONLY
def test_compiled_kernels_share_files_and_give_eagers_results():
    unbatched = compiled_batches(opt_out=True)
    assert unbatched["max_error"] <= 1e-5
    kernels = len(unbatched["batches"])  # one file each, none renamed
    assert kernels >= 3 and set(unbatched["batches"]) == {0}
    batched = compiled_batches(opt_out=False)
    assert batched["max_error"] <= 1e-5
    # The same kernels in one file per compile worker (two).
    assert len(batched["batches"]) == 2 and sum(batched["batches"]) == kernels


# Four kernels held back by one AsyncCompile with two workers (so two batches),
# one of which does not compile: the batch holding it fails, its other kernel is
# compiled alone, and the broken one raises Inductor's own error.
FALLBACK = """
import json, os, tempfile
os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp()
os.environ["TORCHINDUCTOR_COMPILE_THREADS"] = "2"
import torch
from torch._inductor.async_compile import AsyncCompile
from keras_snnkd.backend import torch_kernel_batches

torch_kernel_batches.install()
kernel = {kernel!r}
sources = [kernel.replace("SCALE", scale) for scale in ("2.0f", "3.0f", "zz", "4.0f")]
split = torch_kernel_batches.groups([len(source) for source in sources], 2)
compiler = AsyncCompile()
futures = [compiler.cpp_pybinding({argtypes!r}, source) for source in sources]
torch_kernel_batches._flush(compiler)
x = torch.arange(4, dtype=torch.float32)
results = []
for future in futures:
    try:
        out = torch.zeros(4)
        future.result()(x, out, 4)
        results.append(out.tolist())
    except Exception as e:
        results.append(type(e).__name__)
print(json.dumps({{"split": split, "results": results}}))
"""


@TORCH_COMPILE_ONLY
def test_a_batch_that_fails_compiles_its_kernels_alone():
    out = run_python(FALLBACK.format(kernel=KERNEL, argtypes=ARGTYPES), "torch")
    ran = json.loads(out.strip().splitlines()[-1])
    assert [1, 2] in ran["split"]  # a good kernel shares the broken one's batch
    results = ran["results"]
    assert results[0] == [0, 2, 4, 6] and results[1] == [0, 3, 6, 9]
    assert results[3] == [0, 4, 8, 12]
    assert "Error" in results[2]
