"""`snnkd distill / convert / export / cost / bench` on small models and the 8x8 digits."""

import json
import os

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from keras_snnkd import cli, models
from keras_snnkd.cli.files import subset
from keras_snnkd.datasets import load_digits

from conftest import BACKEND


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli_commands")
    keras.utils.set_random_seed(0)
    teacher = models.reference_ann(input_shape=(8, 8, 1))
    student = models.dense_snn(timesteps=2, input_shape=(8, 8, 1), hidden=(16,))
    paths = {"folder": folder, "teacher": str(folder / "teacher.keras"),
             "student": str(folder / "student.keras")}
    teacher.save(paths["teacher"])
    student.save(paths["student"])
    return paths


def invoke(*args):
    result = CliRunner().invoke(cli.main, ["--backend", BACKEND, *map(str, args)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def read(path):
    with open(path) as handle:
        return json.load(handle)


def test_distill_trains_the_student_and_saves_it(files, tmp_path):
    out = tmp_path / "distilled.keras"
    result = invoke("distill", files["teacher"], files["student"], "--data", "digits",
                    "--limit", 96, "--epochs", 2, "--batch-size", 32, "--out", out)
    report = read(tmp_path / "distilled.json")
    assert report["backend"] == BACKEND and report["data"] == {"name": "digits", "train": 96,
                                                               "test": 96}
    assert report["loss"]["kd"] == "response" and report["loss"]["label_weight"] == 0.5
    assert set(report["history"]) == {"loss", "accuracy", "response_kd", "student_loss"}
    assert len(report["history"]["loss"]) == 2
    trained = keras.saving.load_model(out)
    original = keras.saving.load_model(files["student"])
    changed = [not np.array_equal(a, b) for a, b in
               zip(trained.get_weights(), original.get_weights())]
    assert all(changed)
    assert "student after" in result.output


def test_distill_reads_a_yaml_config_and_the_command_line_wins(files, tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("data: digits\nlimit: 64\nepochs: 3\nbatch-size: 32\nkd: response\n"
                      "temperature: 2.0\nlabel_weight: 0\ncache: false\n")
    invoke("distill", files["teacher"], files["student"], "--config", config, "--epochs", 1,
           "--out", tmp_path / "s.keras", "--json", tmp_path / "r.json")
    report = read(tmp_path / "r.json")
    assert report["epochs"] == 1 and report["batch_size"] == 32
    assert report["loss"]["config"]["temperature"] == 2.0
    assert report["loss"]["label_weight"] == 0.0
    assert set(report["history"]) == {"loss", "accuracy", "response_kd"}  # label-free


def test_convert_writes_an_snn_that_matches_its_report(files, tmp_path):
    out = tmp_path / "snn.keras"
    invoke("convert", files["teacher"], "--data", "digits", "--limit", 64, "-T", 4,
           "--calibration-samples", 32, "--out", out)
    report = read(tmp_path / "snn.json")
    assert report["timesteps"] == 4 and report["neuron"] == "IF"
    assert "IF" in report["layers"] and "RepeatEncoder" in report["layers"]
    assert set(report["firing_rates"]) and all(0 <= r <= 1 for r in
                                                report["firing_rates"].values())
    snn = keras.saving.load_model(out)
    _, test = load_digits()
    x, y = subset(*test, 64)  # the images --limit 64 picks
    accuracy = float(np.mean(snn.predict(x, verbose=0).argmax(-1) == y))
    assert accuracy == pytest.approx(report["snn_accuracy"])


def test_export_checks_the_file_in_tflite_micro_and_bench_times_it(files, tmp_path):
    out = tmp_path / "student.tflite"
    header = tmp_path / "student_model.h"
    invoke("export", files["student"], "--data", "digits", "--limit", 64,
           "--representative-samples", 32, "--check-samples", 24, "--c-header", header,
           "--vela", "--out", out)
    report = read(tmp_path / "student.json")
    assert report["bytes"] == os.path.getsize(out) and report["quantize"] == "int8"
    check = report["check"]
    assert check["runtime"] == "TFLiteMicroModel" and check["samples"] == 24
    assert check["agreement"] >= 0.5 and check["arena_bytes"] > 0
    assert report["c_array"]["model_bytes"] == report["bytes"]
    assert "g_student_model" in header.read_text()
    assert report["vela"]["npu_op_share"] == 1.0

    invoke("bench", files["student"], "--repeats", 2, "--warmup", 1, "--batch-size", 8,
           "--tflite", out, "--json", tmp_path / "bench.json")
    bench = read(tmp_path / "bench.json")
    assert bench["backend"] == BACKEND and bench["batch_size"] == 8
    for part in ("predict", "train"):
        assert bench[part]["samples_per_second"] == pytest.approx(
            8 / bench[part]["seconds_per_batch"])
    assert bench["tflite"]["tflite_micro_ms_per_sample"] > 0
    assert bench["tflite"]["litert_ms_per_sample"] > 0


def test_cost_reports_against_the_ann_and_plots(files, tmp_path):
    plots = tmp_path / "plots"
    plots.mkdir()
    result = invoke("cost", files["student"], "--ann", files["teacher"], "--data", "digits",
                    "--samples", 32, "--plots", plots, "--json", tmp_path / "cost.json")
    report = read(tmp_path / "cost.json")
    assert report["samples"] == 32 and report["model"] == "dense_snn"
    assert report["reference"]["model"] == "reference_ann"
    assert report["ratio"] == pytest.approx(report["energy_pj"] / report["reference_energy_pj"])
    assert {"cost_energy.png", "cost_firing_rates.png", "cost_raster.png"} == set(
        os.listdir(plots))
    assert "ratio" in result.output
