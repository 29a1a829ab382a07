"""torch.compile starts Keras's training step at train_step
(keras_snnkd.backend.torch_compile)."""

import json

import pytest

from conftest import BACKEND, run_python
from keras_snnkd.backend import torch_compile

TORCH_ONLY = pytest.mark.skipif(BACKEND != "torch",
                                reason="a torch.compile setting: the PyTorch leg runs it")


@pytest.mark.parametrize("environ, backend, expected", [
    ({}, "torch", True),
    ({torch_compile.OPT_OUT: "1"}, "torch", True),
    ({torch_compile.OPT_OUT: "0"}, "torch", False),
    ({}, "tensorflow", False),
    ({}, "jax", False),
])
def test_wanted_only_under_pytorch_and_not_opted_out(environ, backend, expected):
    assert torch_compile.wanted(environ, backend) is expected


def test_configure_does_nothing_when_opted_out():
    assert torch_compile.configure({torch_compile.OPT_OUT: "0"}) is False


@TORCH_ONLY
def test_the_installed_keras_has_the_wrapper():
    # If Keras renames or restructures it, configure silently does nothing:
    # this test is what notices.
    assert [c.co_name for c in torch_compile.wrapper_codes()] == [torch_compile.WRAPPER]


# Trains a small model with a compiled step and prints the frames Dynamo
# compiled (from its debug log) and the losses.
FIT = """
import json, logging, os
{setting}
import keras, numpy as np
import keras_snnkd
compiled = []

class Frames(logging.Handler):
    def emit(self, record):
        if record.msg.startswith("torchdynamo start compiling"):
            compiled.append(record.args[0])

log = logging.getLogger("torch._dynamo.convert_frame")
log.setLevel(logging.DEBUG)
log.addHandler(Frames())
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
model.compile(keras.optimizers.Adam(0.1), "mse", jit_compile=True)
model.set_weights([np.full((4, 3), 0.1, "float32"), np.zeros(3, "float32")])
x = keras.ops.convert_to_tensor(np.linspace(-1, 1, 32, dtype="float32").reshape(8, 4))
y = keras.ops.convert_to_tensor(np.linspace(0, 1, 24, dtype="float32").reshape(8, 3))
losses = [float(model.train_on_batch(x, y)) for _ in range(3)]
print(json.dumps({{"compiled": compiled, "losses": losses}}))
"""


def compiled_fit(opt_out):
    setting = f"os.environ[{torch_compile.OPT_OUT!r}] = '0'" if opt_out else ""
    out = run_python(FIT.format(setting=setting), "torch")
    return json.loads(out.strip().splitlines()[-1])


@TORCH_ONLY
def test_compiled_training_starts_at_train_step_and_trains_the_same():
    default, opted_out = compiled_fit(opt_out=False), compiled_fit(opt_out=True)
    assert torch_compile.WRAPPER not in default["compiled"]
    assert "train_step" in default["compiled"]
    # Opted out, Dynamo compiles Keras's wrapper first: the check above can fail.
    assert opted_out["compiled"][0] == torch_compile.WRAPPER
    assert default["losses"] == pytest.approx(opted_out["losses"], rel=1e-6)
