"""A ``torch.compile`` setting keras_snnkd applies under PyTorch: TorchInductor
compiles the C++ kernels of a graph in a few batches, one C++ file per compile
worker, instead of one file per kernel.

Inductor's CPU code is one C++ file per kernel, each compiled by its own ``g++``
call in a pool of compile workers (``AsyncCompile.cpp_pybinding``, submitted as
the graph's generated Python module loads, awaited at its end). Each file starts
by loading Inductor's precompiled header (155 MB): on a 2-core CPU a file with an
empty body took 0.41 s to compile, a kernel of the reference network 0.57-0.85 s,
and 14 of its kernels 9.3 s one file each against 1.9 s in one file. The header,
not the kernels, is the cost.

`configure` has each generated module's kernels, when there are more of them than
compile workers, go into as many C++ files as there are workers (balanced by
source length), each kernel's entry function renamed and all of them bound in
one Python extension. The files go through Inductor's own code cache
(``CppPythonBindingsCodeCache.load_async``: the same compiler flags, precompiled
header, file locks and on-disk cache, keyed by the batch's source), and each
kernel's future resolves to its function in the batch's extension. A kernel that
does not have the plain shape (its own ``#include`` lines and one
``extern "C" void kernel(...)``, with no other top-level code) or has an argument
type the bindings do not parse is compiled on its own, as Inductor would; so is
each kernel of a batch that fails to build (a kernel that fails alone raises
Inductor's own error).

`configure` leaves ``torch.compile`` alone when:

- the Keras backend is not PyTorch;
- ``KERAS_SNNKD_TORCH_KERNEL_BATCHES=0`` is set (the opt-out);
- the installed PyTorch has no Dynamo compile-start callbacks, or its
  ``AsyncCompile`` lacks ``cpp_pybinding``, ``wait`` or ``submit``.

With one compile worker (``TORCHINDUCTOR_COMPILE_THREADS=1``) Inductor compiles
each kernel as it loads and nothing is batched. The setting is put in place at
Dynamo's first compile (no import cost for eager code) and holds for the whole
process.
"""

import os
import re
import threading

import keras

from keras_snnkd.backend import dynamo_callbacks

OPT_OUT = "KERAS_SNNKD_TORCH_KERNEL_BATCHES"
ENTRY = "kernel"
_ORIGINAL = "keras_snnkd_original"
_PENDING = "_keras_snnkd_pending"
# Scalar argument types the bindings parse (Inductor's own parse_arg has these).
_SCALAR_PARSERS = {
    "int64_t": "PyLong_AsLongLong({})",
    "uintptr_t": "reinterpret_cast<uintptr_t>(PyLong_AsVoidPtr({}))",
    "float": "static_cast<float>(PyFloat_AsDouble({}))",
}
_ENTRY_DECLARATION = re.compile(r'^extern "C"\s+void\s+kernel\(', re.MULTILINE)
_lock = threading.Lock()


def wanted(environ, backend):
    """True under PyTorch (``backend == "torch"``) unless ``environ`` (a mapping
    such as ``os.environ``) sets `OPT_OUT` to ``"0"``.

    Example:
    >>> from keras_snnkd.backend.torch_kernel_batches import OPT_OUT, wanted
    >>> wanted({}, "torch"), wanted({OPT_OUT: "0"}, "torch"), wanted({}, "tensorflow")
    (True, False, False)
    """
    return backend == "torch" and environ.get(OPT_OUT, "1") != "0"


def batchable(argtypes, source):
    """Whether a kernel can share a C++ file with others.

    Args:
        argtypes: the C++ types of the entry function's arguments, as Inductor
            passes them to ``cpp_pybinding``.
        source: the kernel's C++ source.

    Returns:
        True when every argument is a pointer or a scalar the bindings parse,
        and the source's top level holds only ``#include`` lines, comments and
        one ``extern "C" void kernel(...)`` definition.

    Example:
    >>> from keras_snnkd.backend.torch_kernel_batches import batchable
    >>> src = '#include <x.h>\\nextern "C" void kernel(float* out)\\n{\\n    out[0] = 1;\\n}\\n'
    >>> batchable(["float*"], src), batchable(["double"], src)
    (True, False)
    >>> batchable(["float*"], src + "static int helper() { return 0; }\\n")
    False
    """
    if any(not t.endswith("*") and _scalar_type(t) not in _SCALAR_PARSERS for t in argtypes):
        return False
    if len(_ENTRY_DECLARATION.findall(source)) != 1:
        return False
    in_declaration = False
    for line in source.splitlines():
        if not line or line[0].isspace() or line.startswith(("#include", "//")):
            continue
        if _ENTRY_DECLARATION.match(line):
            in_declaration = True
        elif line in ("{", "}") or (in_declaration and line.startswith(")")):
            in_declaration = False
        else:
            return False
    return True


def _scalar_type(argtype):
    return argtype.replace("const ", "").strip()


def _argument(argtype, n):
    """C++ expression reading argument ``n`` of type ``argtype`` from ``args``."""
    item = f"PyTuple_GET_ITEM(args, {n})"
    if argtype.endswith("*"):
        return f"static_cast<{_scalar_type(argtype)}>(keras_snnkd_data_ptr({item}))"
    return f"keras_snnkd_check({_SCALAR_PARSERS[_scalar_type(argtype)].format(item)})"


def batched_source(kernels):
    """One C++ file for several kernels: each entry function renamed
    ``kernel_<i>``, and one Python extension module named ``kernel`` (what
    Inductor's loader imports) with a method of that name for each.

    Args:
        kernels: list of ``(argtypes, source)`` pairs, each `batchable`.

    Returns:
        The C++ source.

    Example:
    >>> from keras_snnkd.backend.torch_kernel_batches import batched_source
    >>> src = '#include <x.h>\\nextern "C" void kernel(float* out)\\n{\\n    out[0] = 1;\\n}\\n'
    >>> code = batched_source([(["float*"], src), (["float*"], src)])
    >>> 'void kernel_0(' in code, 'void kernel_1(' in code, 'PyInit_kernel' in code
    (True, True, True)
    """
    parts, wrappers, methods = [], [], []
    for i, (argtypes, source) in enumerate(kernels):
        name = f"{ENTRY}_{i}"
        parts.append(_ENTRY_DECLARATION.sub(f'extern "C" void {name}(', source, count=1))
        call = ", ".join(_argument(t, n) for n, t in enumerate(argtypes))
        wrappers.append(_WRAPPER.format(name=name, count=len(argtypes), call=call))
        methods.append(f'    {{"{name}", {name}_py, METH_VARARGS, ""}},')
    return "\n".join(parts + [_BINDINGS_HEAD] + wrappers
                     + [_BINDINGS_TAIL.format(methods="\n".join(methods), entry=ENTRY)])


_BINDINGS_HEAD = """
// Python bindings of the kernels above (keras_snnkd.backend.torch_kernel_batches).
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>

// Set from Dynamo's guards module (the address Inductor's loader passes in
// _TORCHINDUCTOR_PYOBJECT_TENSOR_DATA_PTR): a tensor's data pointer.
static void* (*keras_snnkd_data_ptr)(PyObject*);

template <typename T> static inline T keras_snnkd_check(T value) {
    if (PyErr_Occurred()) [[unlikely]]
        throw std::runtime_error("a scalar argument has the wrong type");
    return value;
}
"""

_WRAPPER = """
static PyObject* {name}_py(PyObject*, PyObject* args) {{
    try {{
        if (!PyTuple_CheckExact(args)) [[unlikely]]
            throw std::runtime_error("tuple args required");
        if (PyTuple_GET_SIZE(args) != {count}) [[unlikely]]
            throw std::runtime_error("requires {count} args");
        {name}({call});
        Py_RETURN_NONE;
    }} catch (std::exception const& e) {{
        PyErr_SetString(PyExc_RuntimeError, e.what());
    }} catch (...) {{
        PyErr_SetString(PyExc_RuntimeError, "unhandled error");
    }}
    return nullptr;
}}
"""

_BINDINGS_TAIL = """
static PyMethodDef keras_snnkd_methods[] = {{
{methods}
    {{nullptr, nullptr, 0, nullptr}}}};

static struct PyModuleDef keras_snnkd_module = {{
    PyModuleDef_HEAD_INIT, "{entry}", nullptr, -1, keras_snnkd_methods}};

PyMODINIT_FUNC PyInit_{entry}(void) {{
    const char* address = std::getenv("_TORCHINDUCTOR_PYOBJECT_TENSOR_DATA_PTR");
    char* end = nullptr;
    errno = 0;
    uintptr_t value = address ? std::strtoull(address, &end, 10) : 0;
    if (errno != 0 || value == 0 || end == address) {{
        PyErr_SetString(PyExc_RuntimeError,
                        "_TORCHINDUCTOR_PYOBJECT_TENSOR_DATA_PTR must hold an address");
        return nullptr;
    }}
    keras_snnkd_data_ptr = reinterpret_cast<decltype(keras_snnkd_data_ptr)>(value);
    return PyModule_Create(&keras_snnkd_module);
}}
"""


def groups(sizes, count):
    """Splits kernel indices into at most ``count`` groups of about equal total
    size (largest first, each to the lightest group), each kept in index order.

    Args:
        sizes: a size per kernel (its source length).
        count: the number of groups wanted.

    Returns:
        A list of non-empty lists of indices.

    Example:
    >>> from keras_snnkd.backend.torch_kernel_batches import groups
    >>> groups([5, 1, 1, 3, 2], 2)
    [[0, 1], [2, 3, 4]]
    """
    loads = [[0, []] for _ in range(max(1, min(count, len(sizes))))]
    for i in sorted(range(len(sizes)), key=lambda i: (-sizes[i], i)):
        lightest = min(loads, key=lambda load: load[0])
        lightest[0] += sizes[i]
        lightest[1].append(i)
    return [sorted(members) for _, members in loads if members]


class _Pending:
    """A kernel waiting for its module's batches: resolves to its function."""

    def __init__(self, argtypes, source):
        self.argtypes, self.source = argtypes, source
        self.load = None  # set by _flush: () -> the kernel's function

    def result(self, async_compile):
        if self.load is None:
            _flush(async_compile)
        return self.load()


def _flush(async_compile):
    """Submits the kernels ``async_compile`` holds back: in batches where there are
    more than the compile workers, else one by one (Inductor's own way)."""
    from torch._inductor.async_compile import get_compile_threads
    from torch._inductor.codecache import CppPythonBindingsCodeCache

    with _lock:
        pending = getattr(async_compile, _PENDING, [])
        setattr(async_compile, _PENDING, [])
    workers = get_compile_threads()
    if len(pending) <= workers:
        for kernel in pending:
            kernel.load = _alone(async_compile, kernel).result
        return
    for members in groups([len(k.source) for k in pending], workers):
        batch = [pending[i] for i in members]
        load = CppPythonBindingsCodeCache.load_async(
            batched_source([(k.argtypes, k.source) for k in batch]), "cpu",
            submit_fn=async_compile.submit)
        for i, kernel in enumerate(batch):
            kernel.load = _entry(load, f"{ENTRY}_{i}", async_compile, kernel)


def _alone(async_compile, kernel):
    """Inductor's own future for ``kernel``, compiled in a file of its own."""
    original = getattr(type(async_compile).cpp_pybinding, _ORIGINAL)
    return original(async_compile, kernel.argtypes, kernel.source)


def _entry(load, name, async_compile, kernel):
    """``() ->`` function ``name`` of the extension ``load()`` returns; where the
    batch fails to build, ``kernel`` compiled alone (its own error, if any, raised)."""

    def function():
        try:
            return getattr(load(), name)
        except Exception:  # noqa: BLE001 - any failure of the batch: compile the kernel alone
            return _alone(async_compile, kernel).result()

    return function


def _batching_cpp_pybinding(cpp_pybinding):
    def batching_cpp_pybinding(self, argtypes, source_code):
        from torch._inductor.async_compile import get_compile_threads
        from torch._inductor.codecache import LambdaFuture

        if get_compile_threads() <= 1 or not batchable(argtypes, source_code):
            return cpp_pybinding(self, argtypes, source_code)
        kernel = _Pending(list(argtypes), source_code)
        with _lock:
            if not hasattr(self, _PENDING):
                setattr(self, _PENDING, [])
            getattr(self, _PENDING).append(kernel)
        return LambdaFuture(lambda: kernel.result(self))

    setattr(batching_cpp_pybinding, _ORIGINAL, cpp_pybinding)
    return batching_cpp_pybinding


def _flushing_wait(wait):
    def flushing_wait(self, scope):
        _flush(self)
        return wait(self, scope)

    setattr(flushing_wait, _ORIGINAL, wait)
    return flushing_wait


def install():
    """Wraps ``AsyncCompile.cpp_pybinding`` (kernels held back until the module's
    ``wait``) and ``AsyncCompile.wait`` (submits them in batches, then waits);
    calling it again changes nothing.

    Returns:
        True if the wrappers are in place.
    """
    from torch._inductor.async_compile import AsyncCompile

    if not all(hasattr(AsyncCompile, name) for name in ("cpp_pybinding", "wait", "submit")):
        return False
    if not hasattr(AsyncCompile.cpp_pybinding, _ORIGINAL):
        AsyncCompile.cpp_pybinding = _batching_cpp_pybinding(AsyncCompile.cpp_pybinding)
        AsyncCompile.wait = _flushing_wait(AsyncCompile.wait)
    return True


def _install_at_compile(_callback_args=None):
    """Dynamo's compile-start callback: `install`, once per process."""
    install()


def configure(environ=None):
    """Registers `install` to run at Dynamo's first compile, where `wanted` says so.

    Args:
        environ: the environment to read; ``os.environ`` by default.

    Returns:
        True if the callback was registered.
    """
    environ = os.environ if environ is None else environ
    if not wanted(environ, keras.backend.backend()):
        return False
    return dynamo_callbacks.on_compile_start(_install_at_compile)
