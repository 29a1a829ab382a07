"""Shared fixtures. The suite runs once per backend: KERAS_BACKEND=... pytest."""

import json
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


# Trains a small model (or distils into one) with a compiled step and prints the
# frames Dynamo compiled at each of three calls (from its debug log) and the logs;
# then, if asked, the same for a compiled evaluation call.
COMPILED_FIT = """
import json, logging, os
os.environ.update({opt_outs})
import keras, numpy as np
import keras_snnkd
from keras_snnkd import models
from keras_snnkd.distill import Distiller, ResponseKD
compiled = []

class Frames(logging.Handler):
    def emit(self, record):
        if record.msg.startswith("torchdynamo start compiling"):
            compiled[-1].append(record.args[0])

log = logging.getLogger("torch._dynamo.convert_frame")
log.setLevel(logging.DEBUG)
log.addHandler(Frames())
rng = np.random.default_rng(0)
x = keras.ops.convert_to_tensor(rng.uniform(size=(8, 8, 8, 1)).astype("float32"))
y = keras.ops.convert_to_tensor(np.arange(8) % 10)
keras.utils.set_random_seed(0)
model = models.dense_snn(timesteps=2, input_shape=(8, 8, 1), hidden=(16,))
if {distil}:
    teacher = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                keras.layers.Dense(10)])
    model = Distiller(teacher, model, [ResponseKD()])
    model.compile(keras.optimizers.Adam(0.01), jit_compile=True)
else:
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
                  metrics=["accuracy"], jit_compile=True)
logs = []
for call in [model.train_on_batch] * 3 + ([model.test_on_batch] if {evaluate} else []):
    compiled.append([])
    step_logs = call(x, y, return_dict=True)
    logs.append({{k: float(v) for k, v in step_logs.items()}})
print(json.dumps({{"compiled": compiled, "logs": logs}}))
"""


def compiled_fit(distil, opt_outs=(), evaluate=False):
    """Runs `COMPILED_FIT` under PyTorch with each setting in ``opt_outs`` (the
    names of keras_snnkd's opt-out variables) set to 0; with ``evaluate``, a
    compiled ``test_on_batch`` follows the three training calls.

    Returns:
        ``{"compiled": [frame names] per call, "logs": [{metric: value}] per call}``.
    """
    settings = {name: "0" for name in opt_outs}
    out = run_python(COMPILED_FIT.format(opt_outs=settings, distil=distil,
                                         evaluate=evaluate), "torch")
    return json.loads(out.strip().splitlines()[-1])


def assert_same_logs(logs, expected, rel):
    """Each call's logs in ``logs`` have ``expected``'s metrics, each within ``rel``."""
    assert [sorted(step) for step in logs] == [sorted(step) for step in expected]
    for step, want in zip(logs, expected):
        assert step == pytest.approx(want, rel=rel)
