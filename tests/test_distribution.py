"""`Distiller.fit` on several devices: JAX `keras.distribution.DataParallel` and
TensorFlow `tf.distribute.MirroredStrategy`, on simulated CPU devices.

One epoch on N devices must give the weights and logs of one epoch on one device
with the same global batch. The devices are set up before the backend starts, so
each check runs in a fresh interpreter. PyTorch has no multi-device ``fit`` in
Keras (see docs/guides/scaling.md)."""

import json

import pytest

from conftest import BACKEND, run_python

DEVICES = 4
#: Largest absolute weight difference allowed after one epoch (measured: 3e-8 on
#: both backends; float32 sums in another order).
WEIGHT_ATOL = 1e-5
#: Relative difference allowed between the logs (loss, terms, accuracy).
LOG_RTOL = 1e-5

WORKER = """
import contextlib, json, os
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=%(devices)d"
import keras, numpy as np
from keras_snnkd import models
from keras_snnkd.distill import Distiller, ResponseKD

BACKEND = keras.backend.backend()
if BACKEND == "tensorflow":
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * %(devices)d)
    DEVICES = [d.name for d in tf.config.list_logical_devices("CPU")]
else:
    import jax
    DEVICES = [f"cpu:{d.id}" for d in jax.devices()]


def scope(count):
    if count == 1:
        return contextlib.nullcontext()
    if BACKEND == "tensorflow":
        return tf.distribute.MirroredStrategy(DEVICES[:count]).scope()
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=DEVICES[:count]))
    return contextlib.nullcontext()


def train(count):
    keras.utils.set_random_seed(1)
    with scope(count):
        teacher = models.reference_ann(input_shape=(8, 8, 1))
        student = models.dense_snn(timesteps=2, input_shape=(8, 8, 1), hidden=(16,))
        start = [w.copy() for w in student.get_weights()]
        distiller = Distiller(teacher, student, [ResponseKD(temperature=2.0)],
                              student_loss_weight=0.5)
        # SGD: a gradient off by the replica count shows in the weights (Adam would hide it).
        distiller.compile(keras.optimizers.SGD(0.5),
                          keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                          metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 8, 8, 1), "float32"), np.arange(64) %% 10
    history = distiller.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    evaluated = distiller.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    if BACKEND == "jax":
        used = len(student.weights[0].value.sharding.device_set)
        keras.distribution.set_distribution(None)
    else:
        used = distiller.distribute_strategy.num_replicas_in_sync
    weights = student.get_weights()
    return {"devices": used, "weights": [w.tolist() for w in weights],
            "moved": max(float(np.max(np.abs(w - s))) for w, s in zip(weights, start)),
            "fit": {k: float(v[-1]) for k, v in history.history.items()},
            "evaluate": {k: float(v) for k, v in evaluated.items()}}


print(json.dumps({count: train(count) for count in %(counts)s}))
"""
#: Device counts checked against one device. TensorFlow runs one strategy per process:
#: a second MirroredStrategy in the same process fails in TF 2.21 ("Function was
#: cancelled before it was started"), so it checks the largest count only.
COUNTS = {"jax": (2, DEVICES), "tensorflow": (DEVICES,), "torch": ()}[BACKEND]


@pytest.fixture(scope="module")
def runs():
    out = run_python(WORKER % {"devices": DEVICES, "counts": (1, *COUNTS)}, BACKEND)
    return {int(k): v for k, v in json.loads(out.strip().splitlines()[-1]).items()}


@pytest.mark.skipif(BACKEND == "torch", reason="Keras has no multi-device fit on PyTorch "
                                               "(docs/guides/scaling.md)")
@pytest.mark.parametrize("count", COUNTS or [DEVICES])
def test_one_epoch_on_n_devices_matches_one_device(runs, count):
    import numpy as np

    single, multi = runs[1], runs[count]
    assert single["devices"] == 1 and multi["devices"] == count
    assert single["moved"] > 0.05  # the epoch did train
    for a, b in zip(single["weights"], multi["weights"]):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=0, atol=WEIGHT_ATOL)
    for logs in ("fit", "evaluate"):
        assert sorted(multi[logs]) == sorted(single[logs])
        for key, value in single[logs].items():
            assert multi[logs][key] == pytest.approx(value, rel=LOG_RTOL), (logs, key)
