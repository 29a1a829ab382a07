"""PyTorch's activation memory budget, which the backends guide documents, works on
keras_snnkd's compiled steps: below 1 the partitioner saves less for the backward pass
(it recomputes through the neurons' compiled regions), and training is unchanged."""

import json

import pytest

from conftest import SAVED_FOR_BACKWARD, TORCH_COMPILE_ONLY, run_python

pytestmark = TORCH_COMPILE_ONLY

# Three compiled training steps of a small reference SNN from fixed weights; prints the
# losses, the sum of the final weights' magnitudes and the bytes the partitioner saved
# for the backward pass (its debug log lists each saved tensor with its size).
STEPS = SAVED_FOR_BACKWARD + """
import json
import keras, numpy as np
import torch._functorch.config
import keras_snnkd
from keras_snnkd import models
torch._functorch.config.activation_memory_budget = {budget}
rng = np.random.default_rng(0)
x = keras.ops.convert_to_tensor(rng.uniform(size=(16, 8, 8, 1)).astype("float32"))
y = keras.ops.convert_to_tensor(np.arange(16) % 10)
keras.utils.set_random_seed(0)
model = models.reference_snn(timesteps=2, input_shape=(8, 8, 1))
model.compile(keras.optimizers.Adam(0.01),
              keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=True)
losses = [float(model.train_on_batch(x, y)) for _ in range(3)]
weights = float(sum(np.abs(keras.ops.convert_to_numpy(w)).sum() for w in model.weights))
print(json.dumps({{"losses": losses, "weights": weights, "saved_bytes": sum(saved)}}))
"""


def train(budget):
    out = run_python(STEPS.format(budget=budget), "torch")
    return json.loads(out.strip().splitlines()[-1])


def test_a_lower_budget_saves_less_for_backward_and_trains_the_same():
    default, lower = train(1.0), train(0.5)
    assert default["saved_bytes"] > 0
    assert lower["saved_bytes"] < 0.8 * default["saved_bytes"], (lower, default)
    assert lower["losses"] == pytest.approx(default["losses"], rel=1e-5)
    assert lower["weights"] == pytest.approx(default["weights"], rel=1e-5)
