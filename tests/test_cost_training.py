"""FiringRateLogger and FiringRateRegularizer under `fit`, and the benchmark's fast mode."""

import csv
import importlib.util
import os

import keras
import numpy as np
import pytest

from conftest import ROOT
from keras_snnkd import datasets, models, monitor
from keras_snnkd.cost import FiringRateLogger, FiringRateRegularizer
from keras_snnkd.layers import MeanOverTime, RepeatEncoder, TimeFolded
from keras_snnkd.neurons import LIF


@pytest.fixture(scope="module")
def digits():
    (x, y), _ = datasets.load_digits()
    return x[:256], y[:256]


def student(regularizer=None):
    return keras.Sequential([
        keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(32),
        RepeatEncoder(4), LIF(activity_regularizer=regularizer),
        TimeFolded(keras.layers.Dense(10)), MeanOverTime()])


def compile_(model):
    model.compile(keras.optimizers.Adam(1e-2),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def test_logger_writes_rates_to_logs_and_csv(tmp_path, digits):
    x, y = digits
    model = compile_(models.dense_snn(timesteps=3, input_shape=(8, 8, 1), hidden=(16, 8)))
    logger = FiringRateLogger(x[:32])
    path = tmp_path / "log.csv"
    history = model.fit(x, y, epochs=2, batch_size=64, verbose=0,
                        callbacks=[logger, keras.callbacks.CSVLogger(str(path))])
    names = [layer.name for layer in monitor.spiking_layers(model)]
    keys = [f"firing_rate/{n}" for n in names] + ["firing_rate/mean"]
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 2 and all(k in rows[0] for k in keys)
    final = monitor.firing_rates(model, x[:32])  # weights after the last epoch
    for name in names:
        assert history.history[f"firing_rate/{name}"][-1] == pytest.approx(final[name])
        assert float(rows[-1][f"firing_rate/{name}"]) == pytest.approx(final[name])
        assert logger.history[f"firing_rate/{name}"] == history.history[f"firing_rate/{name}"]
    mean = (final[names[0]] * 16 + final[names[1]] * 8) / 24  # weighted by neurons
    assert history.history["firing_rate/mean"][-1] == pytest.approx(mean)


def test_logger_rates_reach_tensorboard(tmp_path, digits):
    # keras.callbacks.TensorBoard writes through tf.summary on every backend.
    import tensorflow as tf

    x, y = digits
    model = compile_(models.dense_snn(timesteps=3, input_shape=(8, 8, 1), hidden=(16,)))
    history = model.fit(x, y, epochs=2, batch_size=64, verbose=0, callbacks=[
        FiringRateLogger(x[:32]), keras.callbacks.TensorBoard(str(tmp_path))])
    logged = {}
    for path in (tmp_path / "train").iterdir():
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.tag.startswith("epoch_"):  # (there is a model-config text too)
                    logged.setdefault(value.tag, []).append(
                        float(tf.make_ndarray(value.tensor)))
    name = monitor.spiking_layers(model)[0].name
    for key in (f"firing_rate/{name}", "firing_rate/mean"):
        np.testing.assert_allclose(logged[f"epoch_{key}"], history.history[key], rtol=1e-6)


def test_logger_rejects_models_without_neurons(digits):
    x, y = digits
    ann = compile_(models.reference_ann(input_shape=(8, 8, 1)))
    with pytest.raises(ValueError, match="no top-level spiking layer"):
        ann.fit(x, y, epochs=1, verbose=0, callbacks=[FiringRateLogger(x[:8])])
    with pytest.raises(ValueError, match="`batch_size` must be >= 1"):
        FiringRateLogger(x, batch_size=0)


def test_regularizer_value():
    spikes = np.zeros((2, 4, 10), "float32")
    spikes[0, :, :5] = 1.0  # rates 0.5 and 0
    value = lambda reg: float(keras.ops.convert_to_numpy(reg(spikes)))
    assert value(FiringRateRegularizer(2.0)) == pytest.approx(1.0)
    assert value(FiringRateRegularizer(2.0, target=0.1, power=2)) == pytest.approx(0.32)
    assert value(FiringRateRegularizer(2.0, target=0.6)) == 0.0


def test_regularizer_serializes_inside_a_neuron():
    reg = FiringRateRegularizer(0.3, target=0.05, power=2)
    layer = LIF(activity_regularizer=reg)
    restored = LIF.from_config(layer.get_config())
    assert restored.activity_regularizer.get_config() == reg.get_config()
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(reg))
    assert isinstance(again, FiringRateRegularizer) and again.power == 2


def test_regularizer_lowers_firing_rate(digits):
    x, y = digits
    rates = {}
    for strength in (0.0, 3.0):
        keras.utils.set_random_seed(0)
        model = compile_(student(FiringRateRegularizer(strength)))
        model.fit(x, y, epochs=3, batch_size=64, verbose=0)
        (rates[strength],) = monitor.firing_rates(model, x).values()
    assert rates[3.0] < 0.5 * rates[0.0]


@pytest.mark.parametrize("kwargs,message", [
    (dict(strength=-1.0), "`strength` must be >= 0"),
    (dict(target=1.0), "`target` must be < 1"),
    (dict(power=3), "`power` must be one of 1, 2"),
])
def test_regularizer_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FiringRateRegularizer(**kwargs)


def test_benchmark_fast_mode(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "cost_vs_peer", os.path.join(ROOT, "benchmarks", "cost_vs_peer.py"))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.main(["--fast", "--timesteps", "2", "--out-dir", str(tmp_path),
                         "--img-dir", str(tmp_path)])
    names = {"cost_vs_peer.json", "cost_reference_table.md", "cost_energy.png",
             "cost_firing_rates.png", "cost_raster.png"}
    assert names <= set(os.listdir(tmp_path))
    layers = result["report"]["layers"]
    assert layers[0]["input"] == "analog" and layers[0]["macs"] == 28 * 28 * 9 * 32
    assert set(result["by_profile"]) >= {"cmos45nm", "loihi"}
    if result["peer"]["status"] == "ok":  # syops installed: the twin spikes alike
        spikes = result["peer"]["spikes_per_sample"]
        assert list(spikes["keras"].values()) == pytest.approx(list(spikes["torch"].values()))
