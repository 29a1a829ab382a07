"""torch.compile compiles what Keras's training step calls, not the step's own
frames (keras_snnkd.backend.torch_compile)."""

import json

import pytest

from conftest import TORCH_COMPILE_ONLY, run_python
from keras_snnkd.backend import torch_compile



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


@TORCH_COMPILE_ONLY
def test_the_installed_keras_has_the_wrapper():
    # If Keras renames or restructures it, configure silently does nothing:
    # this test is what notices.
    assert [c.co_name for c in torch_compile.wrapper_codes()] == [torch_compile.WRAPPER]


@TORCH_COMPILE_ONLY
def test_keras_models_train_with_the_step_it_marks():
    import keras

    assert keras.Sequential.train_step.__code__ in torch_compile.step_codes()
    assert keras.Model.train_step.__code__ in torch_compile.step_codes()


# Trains a small model (or distils into one) with a compiled step and prints the
# frames Dynamo compiled at each of three calls (from its debug log) and the losses.
FIT = """
import json, logging, os
{setting}
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
                  jit_compile=True)
losses = []
for _ in range(3):
    compiled.append([])
    losses.append(float(keras.tree.flatten(model.train_on_batch(x, y))[0]))
print(json.dumps({{"compiled": compiled, "losses": losses}}))
"""


def compiled_fit(opt_out, distil):
    setting = f"os.environ[{torch_compile.OPT_OUT!r}] = '0'" if opt_out else ""
    out = run_python(FIT.format(setting=setting, distil=distil), "torch")
    return json.loads(out.strip().splitlines()[-1])


@TORCH_COMPILE_ONLY
def test_keras_steps_frames_are_not_compiled_and_nothing_compiles_again():
    default = compiled_fit(opt_out=False, distil=False)
    opted_out = compiled_fit(opt_out=True, distil=False)
    first, *later = default["compiled"]
    assert "train_step" not in first and torch_compile.WRAPPER not in first, first
    assert "error_handler" in first  # the model's call (Keras's traceback filter)
    assert later == [[], []]
    # Opted out, Dynamo compiles Keras's wrapper, and the step again at the second
    # call (zero_grad's guards): the checks above can fail.
    assert opted_out["compiled"][0][0] == torch_compile.WRAPPER
    assert "train_step" in opted_out["compiled"][1]
    assert default["losses"] == pytest.approx(opted_out["losses"], rel=1e-6)


@TORCH_COMPILE_ONLY
def test_distiller_compiling_starts_at_the_step_with_backward():
    default = compiled_fit(opt_out=False, distil=True)
    opted_out = compiled_fit(opt_out=True, distil=True)
    assert default["compiled"][0][0] == "distill_train_step", default["compiled"]
    assert torch_compile.WRAPPER not in default["compiled"][0]
    assert default["compiled"][1:] == [[], []]
    # Opted out, Dynamo compiles Keras's wrapper first: the check above can fail.
    assert opted_out["compiled"][0][0] == torch_compile.WRAPPER
    assert default["losses"] == pytest.approx(opted_out["losses"], rel=1e-6)
