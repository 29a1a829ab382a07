"""glibc malloc thresholds raised on import (keras_snnkd.backend.cpu_malloc)."""

import pytest

from conftest import BACKEND, run_python
from keras_snnkd.backend import cpu_malloc

GLIBC = cpu_malloc.libc_name() == "glibc"


@pytest.mark.parametrize("environ, libc, expected", [
    ({}, "glibc", True),
    ({cpu_malloc.OPT_OUT: "1"}, "glibc", True),
    ({cpu_malloc.OPT_OUT: "0"}, "glibc", False),
    ({}, "", False),
    ({}, "musl", False),
    ({"MALLOC_MMAP_THRESHOLD_": "65536"}, "glibc", False),
    ({"MALLOC_TRIM_THRESHOLD_": "65536"}, "glibc", False),
    ({"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=65536"}, "glibc", False),
    ({"GLIBC_TUNABLES": "glibc.malloc.tcache_count=0:glibc.malloc.trim_threshold=1"}, "glibc",
     False),
    ({"GLIBC_TUNABLES": "glibc.malloc.tcache_count=0"}, "glibc", True),
])
def test_thresholds_are_raised_only_where_wanted(environ, libc, expected):
    assert cpu_malloc.wanted(environ, libc) is expected


def test_configure_leaves_malloc_alone_when_opted_out():
    assert cpu_malloc.configure({cpu_malloc.OPT_OUT: "0"}) is False


@pytest.mark.skipif(not GLIBC, reason="glibc's malloc only")
@pytest.mark.parametrize("opt_out, mmapped", [(None, 0), ("0", 1)])
def test_import_serves_large_blocks_from_the_heap(opt_out, mmapped):
    # glibc counts the blocks it maps for single allocations (mallinfo2().hblks):
    # a 64 MiB block is one of them by default, and none once keras_snnkd raised
    # the mmap threshold.
    setting = "" if opt_out is None else f"os.environ[{cpu_malloc.OPT_OUT!r}] = {opt_out!r}\n"
    out = run_python(
        "import ctypes, os\n"
        "for name in ('MALLOC_MMAP_THRESHOLD_', 'MALLOC_TRIM_THRESHOLD_', 'GLIBC_TUNABLES',\n"
        f"             {cpu_malloc.OPT_OUT!r}):\n"
        "    os.environ.pop(name, None)\n"
        + setting +
        "import keras_snnkd\n"
        "class Info(ctypes.Structure):\n"
        "    _fields_ = [(n, ctypes.c_size_t) for n in ('arena', 'ordblks', 'smblks', 'hblks',\n"
        "                'hblkhd', 'usmblks', 'fsmblks', 'uordblks', 'fordblks', 'keepcost')]\n"
        "libc = ctypes.CDLL(None)\n"
        "libc.mallinfo2.restype = Info\n"
        "libc.malloc.restype = ctypes.c_void_p\n"
        "before = libc.mallinfo2().hblks\n"
        "block = libc.malloc(64 << 20)\n"
        "print(libc.mallinfo2().hblks - before)\n"
        "libc.free(ctypes.c_void_p(block))\n", BACKEND)
    assert int(out.strip().splitlines()[-1]) == mmapped
