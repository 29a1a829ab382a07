"""Interruption: runs killed with SIGKILL (mid-epoch, and in the middle of a
checkpoint write) resume from the last checkpoint and end after the same number
of epochs."""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from conftest import BACKEND, ROOT
from keras_snnkd import models
from keras_snnkd.distill import AtomicBackupAndRestore

EPOCHS = 3


def start(args, cwd):
    env = {**os.environ, "KERAS_BACKEND": BACKEND, "PYTHONPATH": ROOT}
    return subprocess.Popen([sys.executable, *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def kill_when(proc, ready, timeout=240):
    """SIGKILLs ``proc`` as soon as ``ready()`` holds; fails if it exits first."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            pytest.fail(f"the run ended before it could be killed:\n{proc.stdout.read()[-3000:]}")
        assert time.monotonic() < deadline, "timed out waiting to kill the run"
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def committed_epoch(folder):
    try:
        with open(os.path.join(folder, "state.json")) as handle:
            return json.load(handle)["epoch"]
    except FileNotFoundError:
        return 0


def test_cli_distill_killed_mid_epoch_resumes_with_the_same_command(tmp_path):
    models.reference_ann(input_shape=(8, 8, 1)).save(tmp_path / "teacher.keras")
    models.dense_snn(timesteps=2, input_shape=(8, 8, 1), hidden=(16,)).save(
        tmp_path / "student.keras")
    command = ["-m", "keras_snnkd.cli", "distill", "teacher.keras", "student.keras",
               "--data", "digits", "--limit", "400", "--batch-size", "2", "--epochs", str(EPOCHS),
               "--out", "out.keras"]
    backup = tmp_path / "out.backup"
    first = start(command, tmp_path)
    # Killed once epoch 1 is committed, a moment into epoch 2 (200 batches: with 50, JAX
    # once finished epoch 2 within the 50 ms wait).
    kill_when(first, lambda: committed_epoch(backup) >= 1 and time.sleep(0.05) is None)
    assert committed_epoch(backup) == 1, "the kill came after epoch 2 was committed"
    assert not (tmp_path / "out.keras").exists()

    second = start(command, tmp_path)
    output, _ = second.communicate(timeout=600)
    assert second.returncode == 0, output[-3000:]
    result = json.loads((tmp_path / "out.json").read_text())
    assert result["epochs"] == EPOCHS and result["resumed_after_epoch"] == 1
    assert len(result["history"]["loss"]) == EPOCHS - 1  # epochs 2..4, run once each
    assert "resumed after epoch 1" in output
    assert not backup.exists()  # removed once training finished
    keras.saving.load_model(tmp_path / "out.keras")


class SlowSave(keras.layers.Layer):
    """Identity layer whose state save, the ``hang_at``-th time, drops a marker
    file and hangs: a kill then lands in the middle of a checkpoint write."""

    saves = 0

    def __init__(self, marker=None, hang_at=0, **kwargs):
        super().__init__(**kwargs)
        self.marker, self.hang_at = marker, hang_at

    def call(self, x):
        return x

    def save_own_variables(self, store):
        SlowSave.saves += 1
        store["saves"] = np.array(SlowSave.saves)
        if SlowSave.saves == self.hang_at:
            open(self.marker, "w").close()
            time.sleep(600)

    def load_own_variables(self, store):
        pass


def small_model(slow):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(8), slow,
                              keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.01), "mse")
    return model


DATA = (np.linspace(0, 1, 48, dtype="float32").reshape(16, 3),
        np.ones((16, 1), "float32"))

WRITER = f"""
import sys
sys.path.insert(0, {os.path.dirname(__file__)!r})
from test_resume import DATA, SlowSave, small_model
from keras_snnkd.distill import AtomicBackupAndRestore
model = small_model(SlowSave(marker="writing", hang_at=2))  # hangs saving epoch 2
model.fit(*DATA, batch_size=4, epochs={EPOCHS}, verbose=0,
          callbacks=[AtomicBackupAndRestore("backup")])
"""


def test_kill_during_a_checkpoint_write_leaves_the_previous_checkpoint(tmp_path):
    writer = start(["-c", WRITER], tmp_path)
    kill_when(writer, (tmp_path / "writing").exists)
    backup = tmp_path / "backup"
    left = sorted(os.listdir(backup))
    assert any(name.startswith(".part-") for name in left), left  # the torn write
    assert committed_epoch(backup) == 1

    model = small_model(SlowSave())
    callback = AtomicBackupAndRestore(backup, delete_checkpoint=False)
    history = model.fit(*DATA, batch_size=4, epochs=EPOCHS, verbose=0, callbacks=[callback])
    assert callback.restored_epoch == 1 and history.epoch == list(range(1, EPOCHS))
    assert sorted(os.listdir(backup)) == [f"epoch-{EPOCHS:04d}.weights.h5", "state.json"]


def test_restored_weights_and_optimizer_state_are_the_saved_ones(tmp_path):
    model = small_model(SlowSave())
    model.fit(*DATA, batch_size=4, epochs=2, verbose=0,
              callbacks=[AtomicBackupAndRestore(tmp_path, delete_checkpoint=False)])
    fresh = small_model(SlowSave())
    callback = AtomicBackupAndRestore(tmp_path, delete_checkpoint=False)
    history = fresh.fit(*DATA, batch_size=4, epochs=2, verbose=0, callbacks=[callback])
    assert history.epoch == [] and callback.restored_epoch == 2  # nothing left to run
    for a, b in zip(model.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert int(fresh.optimizer.iterations) == int(model.optimizer.iterations) == 8


def test_a_checkpoint_of_another_run_is_refused(tmp_path):
    model = small_model(SlowSave())
    model.fit(*DATA, epochs=1, verbose=0, callbacks=[
        AtomicBackupAndRestore(tmp_path, fingerprint={"lr": 0.1}, delete_checkpoint=False)])
    with pytest.raises(ValueError, match="another run"):
        model.fit(*DATA, epochs=2, verbose=0, callbacks=[
            AtomicBackupAndRestore(tmp_path, fingerprint={"lr": 0.2})])


@pytest.mark.parametrize("kwargs, error, match", [
    ({"backup_dir": ""}, TypeError, "backup_dir"),
    ({"backup_dir": 3}, TypeError, "backup_dir"),
    ({"backup_dir": "b", "fingerprint": {1, 2}}, TypeError, "fingerprint"),
])
def test_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        AtomicBackupAndRestore(**kwargs)
