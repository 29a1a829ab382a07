"""`snnkd demo` end to end (fast mode), --help everywhere, --backend and plain-import loading."""

import importlib
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from keras_snnkd import cli, models
from keras_snnkd.cli.app import requested_backend
from keras_snnkd.cost import FiringRateRegularizer
from keras_snnkd.distill import Distiller, ResponseKD
from keras_snnkd.layers import MeanOverTime, RepeatEncoder, StepReLU, TimeFolded
from keras_snnkd.neurons import LIF

from conftest import BACKEND, BACKENDS, ROOT, run_python

COMMANDS = ("demo", "distill", "convert", "export", "cost", "bench")
DEMO_FILES = {"teacher.keras", "student.keras", "student_int8.tflite", "student_model.h",
              "student_model.cc", "cost.json", "cost_table.md", "cost_energy.png",
              "cost_firing_rates.png", "cost_raster.png", "summary.json"}


def test_demo_fast_mode_runs_every_step_and_writes_every_file(tmp_path, monkeypatch):
    """`python -m keras_snnkd.cli --backend B demo --fast`, through the benchmark that
    collects the README's figures."""
    monkeypatch.syspath_prepend(os.path.join(ROOT, "benchmarks"))
    demo_backends = importlib.import_module("demo_backends")
    report = demo_backends.main(["--fast", "--backends", BACKEND, "--out", str(tmp_path),
                                 "--runs", str(tmp_path / "runs")])
    assert report == json.loads((tmp_path / "demo_backends_fast.json").read_text())
    assert (tmp_path / "demo_cost_energy_fast.png").stat().st_size > 10_000
    out = tmp_path / "runs" / f"demo_{BACKEND}"
    assert DEMO_FILES <= set(os.listdir(out))
    summary = json.loads((out / "summary.json").read_text())
    assert report["runs"][BACKEND] == {**summary, "process_seconds": pytest.approx(
        report["runs"][BACKEND]["process_seconds"])}
    assert summary["backend"] == BACKEND and summary["fast"]
    assert summary["data"] == {"name": "mnist_subset", "train": 256, "test": 128}
    assert summary["files"] == sorted(set(os.listdir(out)) - {"output.txt"})
    for role in ("teacher", "student"):
        assert 0.0 <= summary[role]["test_accuracy"] <= 1.0
    assert summary["student"]["params"] < summary["teacher"]["params"] / 4
    energy = summary["cost"]
    assert 0 < energy["student_uj"] < energy["teacher_uj"]
    assert energy["ratio_to_teacher"] == pytest.approx(energy["student_uj"] / energy["teacher_uj"])
    assert len(energy["firing_rates"]) == 3
    assert all(0.0 <= rate <= 1.0 for rate in energy["firing_rates"].values())
    micro = summary["tflite_micro"]
    assert micro["samples"] == 128 and 0.0 <= micro["agreement"] <= 1.0
    assert micro["arena_bytes"] > 0
    assert summary["tflite"]["bytes"] == os.path.getsize(out / "student_int8.tflite")
    assert summary["c_array"]["model_bytes"] == summary["tflite"]["bytes"]
    assert summary["ethos_u"]["npu_ops"] > 0
    assert set(summary["seconds"]) == {"data", "teacher", "student", "cost", "export", "micro",
                                       "ethos_u", "total"}
    student = keras.saving.load_model(out / "student.keras")
    assert student.count_params() == summary["student"]["params"]
    printed = (out / "output.txt").read_text()
    for step in range(1, 8):
        assert f"{step}/7" in printed
    assert "int8 TFLite file" in printed and "top-1 agreement" in printed


def test_help_on_every_command():
    runner = CliRunner()
    result = runner.invoke(cli.main, ["--help"])
    assert result.exit_code == 0 and "Usage: main [OPTIONS] COMMAND" in result.output
    assert set(COMMANDS) <= set(cli.main.commands)
    for command in COMMANDS:
        result = runner.invoke(cli.main, [command, "--help"])
        assert result.exit_code == 0, result.output
        assert f"Usage: main {command} [OPTIONS]" in result.output
        assert "--config FILE" in result.output


@pytest.mark.parametrize("argv, backend", [
    (["--backend", "jax", "demo"], "jax"),
    (["--backend=torch", "cost", "x.keras"], "torch"),
    (["--debug", "--backend", "tensorflow", "demo"], "tensorflow"),
    (["demo", "--backend", "jax"], None),  # after the command: not the group's option
    (["demo"], None),
])
def test_requested_backend_reads_the_group_option_only(argv, backend):
    assert requested_backend(argv) == backend


def _bench_model(path):
    model = models.dense_snn(timesteps=2, input_shape=(8, 8, 1), hidden=(8,))
    model.save(path)
    return path


def test_backend_option_reexecutes_on_the_requested_backend(tmp_path):
    """`snnkd --backend B` runs on B although Keras started on another backend."""
    other = BACKENDS[(BACKENDS.index(BACKEND) + 1) % len(BACKENDS)]
    model = _bench_model(str(tmp_path / "m.keras"))
    out = tmp_path / "bench.json"
    env = {**os.environ, "KERAS_BACKEND": BACKEND, "PYTHONPATH": ROOT}
    proc = subprocess.run(
        [sys.executable, "-c", "from keras_snnkd.cli import run; run()", "--backend", other,
         "bench", model, "--no-train", "--repeats", "1", "--warmup", "0", "--json", str(out)],
        env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert json.loads(out.read_text())["backend"] == other


def test_backend_mismatch_in_process_is_a_usage_error():
    other = BACKENDS[(BACKENDS.index(BACKEND) + 1) % len(BACKENDS)]
    result = CliRunner().invoke(cli.main, ["--backend", other, "demo", "--help"])
    assert result.exit_code == 2 and "already runs Keras on" in result.output


def test_plain_import_registers_every_serializable_class(tmp_path):
    """`import keras_snnkd` alone is enough for `keras.saving.load_model`."""
    snn = keras.Sequential([
        keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(16),
        RepeatEncoder(2), LIF(beta=0.8, surrogate="fast_sigmoid",
                              activity_regularizer=FiringRateRegularizer(0.1)),
        TimeFolded(keras.layers.Dense(10)), MeanOverTime()])
    ann = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                            keras.layers.Dense(16), StepReLU(levels=4), keras.layers.Dense(10)])
    distiller = Distiller(ann, snn, [ResponseKD(temperature=2.0)])
    x = np.random.default_rng(0).random((4, 8, 8, 1)).astype("float32")
    paths = {"snn": tmp_path / "snn.keras", "ann": tmp_path / "ann.keras",
             "distiller": tmp_path / "distiller.keras"}
    for name, model in (("snn", snn), ("ann", ann), ("distiller", distiller)):
        model.save(paths[name])
    np.save(tmp_path / "x.npy", x)
    code = (
        "import sys, keras, numpy as np\n"
        "import keras_snnkd\n"
        "assert 'keras_snnkd.layers' in sys.modules\n"
        f"x = np.load({str(tmp_path / 'x.npy')!r})\n"
        + "".join(f"print({name!r}, keras.saving.load_model({str(p)!r}).predict(x, verbose=0)"
                  ".round(5).tolist())\n" for name, p in paths.items())
    )
    lines = run_python(code, BACKEND).strip().splitlines()
    loaded = {line.split(" ", 1)[0].strip("'"): np.array(json.loads(line.split(" ", 1)[1]))
              for line in lines}
    np.testing.assert_allclose(loaded["snn"], snn.predict(x, verbose=0), atol=1e-4)
    np.testing.assert_allclose(loaded["ann"], ann.predict(x, verbose=0), atol=1e-4)
    np.testing.assert_allclose(loaded["distiller"], snn.predict(x, verbose=0), atol=1e-4)
