"""Shared fixtures. The suite runs once per backend: KERAS_BACKEND=... pytest."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

BACKENDS = ("tensorflow", "jax", "torch")
BACKEND = keras.backend.backend()
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Tests of a torch.compile setting: meaningful under PyTorch only.
TORCH_COMPILE_ONLY = pytest.mark.skipif(BACKEND != "torch",
                                        reason="a torch.compile setting: the PyTorch leg runs it")
# The head of a subprocess script that collects, in ``saved``, the bytes PyTorch's
# partitioner saves for the backward pass of each graph it partitions (its debug log
# lists each saved tensor with its size). Put it first: the flag is read when
# torch._functorch is imported.
SAVED_FOR_BACKWARD = """
import logging, os
os.environ["AOT_PARTITIONER_DEBUG"] = "1"
saved = []

class Sizes(logging.Handler):
    def emit(self, record):
        if record.msg.startswith("Theoretical Per Activation Storage Sizes"):
            saved.append(sum(size for size, _ in record.args[0]))

log = logging.getLogger("torch._functorch.partitioners")
log.setLevel(logging.INFO)
log.addHandler(Sizes())
"""


def pytest_report_header(config):
    return f"keras backend: {BACKEND} (keras {keras.__version__})"


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(0)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def run_python(code, backend, cwd=None, timeout=300):
    """Runs ``code`` in a fresh interpreter on ``backend``; returns stdout.

    Fails the test with the child's output when it exits non-zero."""
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": ROOT}
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        pytest.fail(f"{backend} subprocess failed ({proc.returncode}):\n"
                    f"{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return proc.stdout


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)
