"""tfmot through the tf_keras mirror: pruning and QAT, under every backend."""

import json
import math
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_snnkd import datasets, layers, models, neurons
from keras_snnkd.export import TFLiteMicroModel, cluster, kernel_sparsity, prune, to_tflite


def _accuracy(model, x, y):
    return float(np.mean(model.predict(x, verbose=0, batch_size=256).argmax(1) == y))


@pytest.fixture(scope="module")
def student():
    """A dense student trained on the 8x8 digits under the current backend."""
    keras.utils.set_random_seed(0)
    (x, y), (x_test, y_test) = datasets.load_digits()
    model = models.dense_snn(timesteps=4, input_shape=(8, 8, 1), hidden=(128,))
    model.compile(optimizer=keras.optimizers.Adam(5e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=6, batch_size=64, verbose=0)
    return model, (x, y), (x_test, y_test)


def test_pruned_student_keeps_accuracy_and_runs_in_tflite_micro(student, tmp_path):
    model, (x, y), (x_test, y_test) = student
    before = [w.copy() for w in model.get_weights()]
    pruned = prune(model, x, y, sparsity=0.75, epochs=8, verbose=0)
    for layer in pruned.layers:
        inner = getattr(layer, "layer", layer)
        if isinstance(inner, keras.layers.Dense):
            kernel = keras.ops.convert_to_numpy(inner.kernel)
            assert np.sum(kernel == 0) >= math.ceil(0.75 * kernel.size)
    assert min(kernel_sparsity(pruned).values()) >= 0.75
    baseline, after = _accuracy(model, x_test, y_test), _accuracy(pruned, x_test, y_test)
    assert after >= baseline - 0.03, (baseline, after)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    for original, twin in zip(model.layers, pruned.layers):
        assert type(original) is type(twin) and original.name == twin.name
        if isinstance(original, neurons.SpikingNeuron):
            assert original.get_config() == twin.get_config()
    path = to_tflite(pruned, tmp_path / "pruned.tflite", quantize="int8",
                     representative_data=x[:128])
    micro = TFLiteMicroModel(path).predict(x_test[:120])
    floats = pruned.predict(x_test[:120], verbose=0)
    assert np.mean(micro.argmax(1) == floats.argmax(1)) >= 0.95



def _kernels(model):
    inners = [getattr(layer, "layer", layer) for layer in model.layers]
    return {inner.name: keras.ops.convert_to_numpy(inner.kernel) for inner in inners
            if isinstance(inner, (keras.layers.Dense, keras.layers.Conv2D))}


def test_clustered_student_keeps_accuracy_and_runs_in_tflite_micro(student, tmp_path):
    model, (x, y), (x_test, y_test) = student
    before = [w.copy() for w in model.get_weights()]
    clustered = cluster(model, x[:512], y[:512], clusters=16, epochs=1, verbose=0)
    kernels = _kernels(clustered)
    assert len(kernels) == 2
    assert all(len(np.unique(kernel)) <= 16 for kernel in kernels.values()), {
        name: len(np.unique(kernel)) for name, kernel in kernels.items()}
    assert all(len(np.unique(kernel)) > 16 for kernel in _kernels(model).values())
    baseline, after = _accuracy(model, x_test, y_test), _accuracy(clustered, x_test, y_test)
    assert after >= baseline - 0.03, (baseline, after)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    for original, twin in zip(model.layers, clustered.layers):
        assert type(original) is type(twin) and original.name == twin.name
        if isinstance(original, neurons.SpikingNeuron):
            assert original.get_config() == twin.get_config()
    path = to_tflite(clustered, tmp_path / "clustered.tflite", quantize="int8",
                     representative_data=x[:128])
    micro = TFLiteMicroModel(path).predict(x_test[:120])
    floats = clustered.predict(x_test[:120], verbose=0)
    assert np.mean(micro.argmax(1) == floats.argmax(1)) >= 0.95

ONCE = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="backend-independent (the tfmot worker always runs TensorFlow with tf_keras; "
           "the parent side is what the pruning test covers per backend): run once, in the "
           "TensorFlow run of the suite")


@ONCE
def test_qat_export_runs_end_to_end(student, tmp_path):
    model, (x, y), (x_test, _) = student
    before = [w.copy() for w in model.get_weights()]
    path = to_tflite(model, tmp_path / "qat.tflite", quantize="qat",
                     qat_data=(x[:256], y[:256]), qat_epochs=1)
    micro = TFLiteMicroModel(path)
    assert micro.input["dtype"] == np.int8 and micro.output["dtype"] == np.int8
    floats = model.predict(x_test[:120], verbose=0)
    assert np.mean(micro.predict(x_test[:120]).argmax(1) == floats.argmax(1)) >= 0.9
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


_MIRROR_CHECK = """
import json, sys, numpy as np, keras
from keras_snnkd import layers, models, neurons
from keras_snnkd.export.tf_keras_mirror import build_mirror
keras.utils.set_random_seed(1)
rng = np.random.default_rng(0)
time_major = keras.Sequential([
    keras.Input((3, 6)), layers.TimeFolded(keras.layers.Dense(8)),
    layers.TimeFolded(keras.layers.BatchNormalization()),
    neurons.LIF.from_snntorch(beta=0.8, threshold=0.5, reset_mechanism="zero"),
    layers.TimeFolded(keras.layers.Dense(4)), layers.LastMembrane(beta=0.9)])
bn = time_major.layers[1].layer
bn.moving_mean.assign(rng.normal(size=8).astype("float32"))
bn.moving_variance.assign(rng.uniform(0.5, 2, size=8).astype("float32"))
cases = {"reference": (models.reference_snn(timesteps=2), rng.random((4, 28, 28, 1))),
         "time_major": (time_major, rng.normal(size=(5, 3, 6)))}
errors = {}
for name, (model, x) in cases.items():
    x = x.astype("float32")
    mirror, pairs = build_mirror(model)
    errors[name] = float(np.abs(mirror.predict(x, verbose=0) - model.predict(x, verbose=0)).max())
print(json.dumps(errors))
"""


@ONCE
def test_mirror_computes_what_the_model_computes():
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_USE_LEGACY_KERAS": "1"}
    proc = subprocess.run([sys.executable, "-c", _MIRROR_CHECK], env=env, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    errors = json.loads(proc.stdout.strip().splitlines()[-1])
    assert all(error < 1e-5 for error in errors.values()), errors


def _tiny():
    return models.dense_snn(timesteps=2, input_shape=(4,), hidden=(3,))


_X, _Y = np.zeros((8, 4), "float32"), np.zeros(8, "int64")


@pytest.mark.parametrize("kwargs, error, match", [
    ({"sparsity": 1.0}, ValueError, r"`sparsity` must be < 1.0, got 1.0"),
    ({"sparsity": -0.1}, ValueError, r"`sparsity` must be >= 0.0, got -0.1"),
    ({"sparsity": "half"}, TypeError, "`sparsity` must be a number"),
    ({"epochs": 0}, ValueError, "`epochs` must be >= 1"),
    ({"schedule": "cubic"}, ValueError, "`schedule` must be one of 'polynomial', 'constant'"),
    ({"epochs": 1, "batch_size": 8}, ValueError, "needs at least 2 training steps"),
    ({"teacher": np.zeros((8, 3))}, ValueError, r"teacher's outputs must have shape \(8, 10\)"),
])
def test_prune_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        prune(_tiny(), _X, _Y, **kwargs)


@pytest.mark.parametrize("x, y, match", [
    (np.zeros((8, 5), "float32"), _Y, r"`x` must have shape \(N, 4\).*got \(8, 5\)"),
    (np.zeros((8, 2, 4), "float32"), _Y, r"`x` must have shape \(N, 4\)"),
    (_X, np.zeros(7, "int64"), r"`y` must be integer class labels of shape \(8,\)"),
    (_X, np.zeros(8, "float32"), r"`y` must be integer class labels"),
    (_X, np.full(8, 10), r"`y` must hold labels in \[0, 10\)"),
    (np.full((8, 4), np.nan, "float32"), _Y, "`x` contains NaN"),
])
def test_prune_data_shape(x, y, match):
    with pytest.raises(ValueError, match=match):
        prune(_tiny(), x, y)


def test_prune_names_every_layer_the_mirror_cannot_rebuild():
    model = keras.Sequential([
        keras.Input((4,)), layers.PoissonEncoder(timesteps=2, name="poisson"),
        layers.TimeFolded(keras.layers.Dense(6)),
        layers.TimeFolded(keras.layers.LayerNormalization(), name="folded_norm"),
        neurons.LIF(), layers.MeanOverTime()])
    with pytest.raises(ValueError, match=r"cannot rebuild layer\(s\) 'poisson' "
                                         r"\(PoissonEncoder\), 'folded_norm' "
                                         r"\(TimeFolded\(LayerNormalization\)\)"):
        prune(model, _X, _Y)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"clusters": 1}, ValueError, r"`clusters` must be >= 2 .*got 1"),
    ({"clusters": 0}, ValueError, r"`clusters` must be >= 1, got 0"),
    ({"clusters": 13}, ValueError,
     r"`clusters` must be <= 12, the size of the smallest kernel \(layer 'dense\w*'\); got 13"),
    ({"clusters": 4.0}, TypeError, r"`clusters` must be a positive int, got 4.0 of type float"),
    ({"clusters": True}, TypeError, "`clusters` must be a positive int"),
    ({"epochs": 0}, ValueError, "`epochs` must be >= 1"),
    ({"init": "random"}, ValueError, "`init` must be one of 'kmeans\\+\\+', 'linear'"),
    ({"teacher": np.zeros((8, 3))}, ValueError, r"the teacher's outputs must have shape \(8, 10\)"),
])
def test_cluster_arguments(kwargs, error, match):
    with pytest.raises(error, match=f"^cluster: {match}"):
        cluster(_tiny(), _X, _Y, **{"clusters": 4, **kwargs})


@pytest.mark.parametrize("x, y, match", [
    (np.zeros((8, 5), "float32"), _Y, r"`x` must have shape \(N, 4\).*got \(8, 5\)"),
    (_X, np.zeros(7, "int64"), r"`y` must be integer class labels of shape \(8,\)"),
    (_X, np.full(8, 10), r"`y` must hold labels in \[0, 10\)"),
])
def test_cluster_data_shape(x, y, match):
    with pytest.raises(ValueError, match=f"^cluster: {match}"):
        cluster(_tiny(), x, y, clusters=4)


def test_cluster_without_tfmot_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow_model_optimization", None)
    with pytest.raises(ImportError, match=r"^cluster: .*tensorflow_model_optimization.*"
                                          r"pip install 'keras_snnkd\[tfmot\]'"):
        cluster(_tiny(), _X, _Y, clusters=4)


def test_missing_tfmot_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "tensorflow_model_optimization", None)
    with pytest.raises(ImportError, match=r"tensorflow_model_optimization.*"
                                          r"pip install 'keras_snnkd\[tfmot\]'"):
        prune(_tiny(), _X, _Y, epochs=2)
    with pytest.raises(ImportError, match=r"keras_snnkd\[tfmot\]"):
        to_tflite(_tiny(), tmp_path / "qat.tflite", quantize="qat", qat_data=(_X, _Y))
    assert not (tmp_path / "qat.tflite").exists()


@pytest.mark.parametrize("kwargs, match", [
    ({"quantize": "qat"}, r"needs `qat_data=\(x, y\)`"),
    ({"quantize": "qat", "qat_data": (_X, _Y), "qat_epochs": 0}, "`qat_epochs` must be >= 1"),
    ({"quantize": "qat", "qat_data": (_X[:, :2], _Y)}, r"`qat_data\[0\]` must have shape"),
    ({"quantize": "int8", "qat_data": (_X, _Y), "representative_data": _X},
     "`qat_data` is used only with quantize='qat'"),
])
def test_qat_arguments(tmp_path, kwargs, match):
    target = tmp_path / "model.tflite"
    with pytest.raises(ValueError, match=match):
        to_tflite(_tiny(), target, **kwargs)
    assert not target.exists()


@ONCE
def test_prune_table_fast_mode(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "prune_table", os.path.join(os.path.dirname(os.path.dirname(__file__)),
                                    "benchmarks", "prune_table.py"))
    table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(table)
    result = table.main(["--fast", "--json", str(tmp_path / "prune_fast.json")])
    dense, pruned = result["rows"]
    assert pruned["kernel_sparsity"] >= 0.75
    assert pruned["vela"]["flash_bytes"] < dense["vela"]["flash_bytes"]
    assert set(next(iter(result["qat"].values()))) == {
        "float_accuracy", "ptq_int8", "tfmot_qat_int8", "keras_weight_qat_int8"}
    assert json.loads((tmp_path / "prune_fast.json").read_text()) == result


@pytest.mark.parametrize("function", [prune, cluster])
@pytest.mark.parametrize("model, error, match", [
    ("not a model", TypeError, "`model` must be a keras.Model, got str"),
    (keras.Sequential([keras.layers.Dense(3)]), ValueError, "is not built with a known input"),
])
def test_prune_and_cluster_reject_models_they_cannot_read(function, model, error, match):
    with pytest.raises(error, match=f"^{function.__name__}: .*{match}"):
        function(model, _X, _Y)
