"""XLA:CPU flags set on import under JAX (keras_snnkd.backend.xla_cpu)."""

import numpy as np
import pytest
from keras import ops

from conftest import BACKEND, run_python
from keras_snnkd.backend import value_and_grad, xla_cpu

YNN = f"{xla_cpu.FLAG}={xla_cpu.VALUE}"


@pytest.mark.parametrize("environ, backend, jaxlib, tensorflow, expected", [
    ({}, "jax", "0.10.2", None, YNN),
    ({}, "jax", "0.9.0", "2.21.0", YNN),
    ({"XLA_FLAGS": "--xla_cpu_enable_fast_math=false"}, "jax", "0.10.2", None,
     f"--xla_cpu_enable_fast_math=false {YNN}"),
    ({}, "tensorflow", "0.10.2", "2.21.0", None),
    ({}, "torch", "0.10.2", None, None),
    ({"XLA_FLAGS": f"{xla_cpu.FLAG}=eltwise"}, "jax", "0.10.2", None, None),
    ({xla_cpu.OPT_OUT: "0"}, "jax", "0.10.2", None, None),
    ({xla_cpu.OPT_OUT: "1"}, "jax", "0.10.2", None, YNN),
    ({}, "jax", "0.8.0", None, None),
    ({}, "jax", "0.11.0", None, None),
    ({}, "jax", None, None, None),
    ({}, "jax", "0.10.2", "2.20.0", None),
    ({}, "jax", "0.10.2", "nightly", None),
])
def test_flag_is_added_only_where_it_is_known_and_wanted(environ, backend, jaxlib, tensorflow,
                                                         expected):
    installed = {"jaxlib": jaxlib, "tensorflow": tensorflow}.get
    assert xla_cpu.updated_xla_flags(environ, backend, installed) == expected


def test_tensorflow_cpu_counts_as_tensorflow():
    old = {"jaxlib": "0.10.2", "tensorflow-cpu": "2.20.0"}.get
    assert xla_cpu.updated_xla_flags({}, "jax", old) is None
    checked = {"jaxlib": "0.10.2", "tensorflow-cpu": "2.21.0"}.get
    assert xla_cpu.updated_xla_flags({}, "jax", checked) == YNN


def test_configure_writes_the_given_environment():
    environ = {"XLA_FLAGS": f"{xla_cpu.FLAG}=eltwise"}
    assert xla_cpu.configure(environ) is False
    assert environ == {"XLA_FLAGS": f"{xla_cpu.FLAG}=eltwise"}
    environ = {xla_cpu.OPT_OUT: "0"}
    assert xla_cpu.configure(environ) is False
    assert "XLA_FLAGS" not in environ


@pytest.mark.skipif(BACKEND != "jax", reason="imports keras_snnkd under JAX: the JAX leg runs it")
def test_importing_keras_snnkd_under_jax_sets_the_flag():
    out = run_python(
        "import os\n"
        "os.environ.pop('XLA_FLAGS', None); os.environ.pop('KERAS_SNNKD_XLA_CPU_FLAGS', None)\n"
        "import keras_snnkd\n"
        "print(os.environ.get('XLA_FLAGS'))\n", "jax")
    assert out.strip().splitlines()[-1] == YNN


def test_convolution_gradients_match_numpy(rng):
    # Under JAX the test process runs with the flag, so this checks YNNPACK's kernels.
    x = rng.normal(size=(16, 10, 10, 8)).astype("float32")
    kernel = rng.normal(size=(3, 3, 8, 12)).astype("float32")
    g = rng.normal(size=(16, 10, 10, 12)).astype("float32")
    value, (dx, dk) = value_and_grad(
        lambda x, k: ops.sum(ops.conv(x, k, padding="same") * ops.convert_to_tensor(g)),
        [x, kernel])
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0))).astype("float64")
    windows = np.stack([np.stack([padded[:, i:i + 10, j:j + 10] for j in range(3)], 1)
                        for i in range(3)], 1)  # (n, 3, 3, h, w, ci)
    want_dk = np.einsum("nijhwc,nhwo->ijco", windows, g)
    want_value = np.einsum("nijhwc,ijco,nhwo->", windows, kernel, g)
    padded_g = np.pad(g, ((0, 0), (1, 1), (1, 1), (0, 0))).astype("float64")
    want_dx = sum(np.einsum("nhwo,co->nhwc", padded_g[:, 2 - i:12 - i, 2 - j:12 - j], kernel[i, j])
                  for i in range(3) for j in range(3))
    np.testing.assert_allclose(value, want_value, rtol=1e-4)
    np.testing.assert_allclose(dk, want_dk, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(dx, want_dx, rtol=1e-4, atol=1e-4)
