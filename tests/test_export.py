"""Edge export on real runtimes: int8 TFLite in LiteRT and TFLite Micro, Vela, C arrays.

Heavy checks run in the TensorFlow-backend run of the suite only (export
always converts in TensorFlow); `test_export_backends.py` proves the
subprocess path under JAX and PyTorch.
"""

import os
import re

import keras
import numpy as np
import pytest

from conftest import BACKEND

EXTRA = "export needs the export extra: pip install 'keras_snnkd[export]'"
pytest.importorskip("tensorflow", reason=EXTRA)
pytest.importorskip("ai_edge_litert", reason=EXTRA)
pytest.importorskip("tflite_micro", reason=EXTRA)
if BACKEND != "tensorflow":
    pytest.skip("heavy export checks run in the TensorFlow-backend run; "
                "test_export_backends.py covers the other backends", allow_module_level=True)

from keras_snnkd import datasets, models  # noqa: E402
from keras_snnkd.export import (  # noqa: E402
    LiteRTModel, TFLiteMicroModel, inspect_tflite, to_c_array, to_tflite, vela_report)


def _compile(model):
    model.compile(keras.optimizers.Adam(5e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


@pytest.fixture(scope="module")
def digits():
    return datasets.load_digits()


@pytest.fixture(scope="module")
def students(digits, tmp_path_factory):
    """A conv reference network (8x8 input) and a dense student, briefly trained on
    real digits, each exported as float and int8."""
    (x_train, y_train), _ = digits
    keras.utils.set_random_seed(0)
    nets = {
        "reference": models.reference_snn(timesteps=3, input_shape=(8, 8, 1)),
        "dense": models.dense_snn(timesteps=4, input_shape=(8, 8, 1), hidden=(48,)),
    }
    folder = tmp_path_factory.mktemp("export")
    out = {}
    for name, model in nets.items():
        _compile(model).fit(x_train, y_train, batch_size=64, epochs=3 if name == "dense" else 4,
                            verbose=0)
        out[name] = {
            "model": model,
            "float": to_tflite(model, folder / f"{name}_float.tflite"),
            "int8": to_tflite(model, folder / f"{name}_int8.tflite", quantize="int8",
                              representative_data=x_train[:256]),
        }
    return out


@pytest.mark.parametrize("name", ["reference", "dense"])
def test_int8_graph_has_no_float_tensor(students, name):
    info = inspect_tflite(students[name]["int8"])
    assert info["inputs"] == ["int8"] and info["outputs"] == ["int8"]
    assert info["dtypes"] <= {"int8", "int32"}, info["dtypes"]
    # int32 only for stored constants (biases, reshape shapes), never activations.
    assert all(t["constant"] for t in info["tensors"] if t["dtype"] == "int32")
    assert not {"CAST", "GREATER", "DEQUANTIZE", "QUANTIZE"} & set(info["operators"])


@pytest.mark.parametrize("name", ["reference", "dense"])
def test_int8_spikes_are_exactly_zero_or_one(students, digits, name):
    """Every spike tensor of the int8 graph holds exactly 0 or 1 (after dequantizing)
    and matches the float model's spikes on all but a few percent of neurons."""
    from ai_edge_litert.interpreter import Interpreter

    (_, _), (x_test, _) = digits
    model = students[name]["model"]
    interpreter = Interpreter(model_path=str(students[name]["int8"]),
                              experimental_preserve_all_tensors=True)
    interpreter.allocate_tensors()
    details = interpreter.get_input_details()[0]
    scale, zero = details["quantization"]
    neurons = [layer.name for layer in model.layers if "lif" in layer.name]
    spike_tensors = {}
    for tensor in interpreter.get_tensor_details():
        match = re.match(r"(.+)_t(\d+)/Relu", tensor["name"])
        if match and match.group(1) in neurons:
            spike_tensors[(match.group(1), int(match.group(2)))] = tensor
    steps = 3 if name == "reference" else 4
    assert len(spike_tensors) == len(neurons) * steps
    probe = keras.Model(model.inputs, [model.get_layer(n).output for n in neurons])
    float_spikes = probe.predict(x_test[:20], verbose=0)
    float_spikes = float_spikes if isinstance(float_spikes, list) else [float_spikes]
    mismatches, total = 0, 0
    for i, x in enumerate(x_test[:20]):
        interpreter.set_tensor(details["index"],
                               np.clip(np.round(x[None] / scale + zero), -128, 127).astype("int8"))
        interpreter.invoke()
        for (neuron, t), tensor in spike_tensors.items():
            s, z = tensor["quantization"]
            assert abs(255 * s - 1.0) < 1e-6  # int8 codes z and z + 255 are 0 and 1
            codes = interpreter.get_tensor(tensor["index"]).astype("int64") - z
            assert set(np.unique(codes)) <= {0, 255}, (neuron, t, np.unique(codes))
            values = codes / 255
            expected = float_spikes[neurons.index(neuron)][i, t]
            mismatches += int(np.sum(values[0] != expected))
            total += expected.size
    assert mismatches / total < 0.03, f"{mismatches} of {total} spikes differ from float"


@pytest.mark.parametrize("name", ["reference", "dense"])
def test_litert_and_tflm_agree_with_keras(students, digits, name):
    _, (x_test, y_test) = digits
    model = students[name]["model"]
    reference = model.predict(x_test, verbose=0)
    float_out = LiteRTModel(students[name]["float"]).predict(x_test)
    np.testing.assert_allclose(float_out, reference, atol=1e-4)
    litert = LiteRTModel(students[name]["int8"]).predict(x_test)
    micro = TFLiteMicroModel(students[name]["int8"])
    tflm = micro.predict(x_test)
    for out in (litert, tflm):
        agreement = np.mean(out.argmax(1) == reference.argmax(1))
        assert agreement >= 0.97, agreement  # briefly trained; benchmarks report the real figures
        drop = np.mean(reference.argmax(1) == y_test) - np.mean(out.argmax(1) == y_test)
        assert drop <= 0.02, drop
    assert 0 < micro.arena_bytes < 200_000


def test_float_tflm_matches_keras(students, digits):
    _, (x_test, _) = digits
    model = students["dense"]["model"]
    np.testing.assert_allclose(TFLiteMicroModel(students["dense"]["float"]).predict(x_test[:50]),
                               model.predict(x_test[:50], verbose=0), atol=1e-4)


def test_dynamic_range_export_runs_in_litert(students, digits, tmp_path):
    _, (x_test, _) = digits
    model = students["dense"]["model"]
    path = to_tflite(model, tmp_path / "dynamic.tflite", quantize="dynamic")
    info = inspect_tflite(path)
    assert "int8" in info["dtypes"] and info["inputs"] == ["float32"]
    out = LiteRTModel(path).predict(x_test[:100])
    reference = model.predict(x_test[:100], verbose=0)
    assert np.mean(out.argmax(1) == reference.argmax(1)) >= 0.95
    with pytest.raises(RuntimeError, match="dynamic-range"):
        TFLiteMicroModel(path)


@pytest.mark.parametrize("name", ["reference", "dense"])
def test_vela_places_every_operator_on_the_npu(students, name, tmp_path):
    report = vela_report(students[name]["int8"], output_dir=tmp_path)
    assert report["npu_op_share"] == 1.0 and report["cpu_ops"] == 0, report
    assert report["cycles"] > 0 and report["sram_bytes"] > 0 and report["flash_bytes"] > 0
    assert os.path.isfile(report["optimized_path"])


def test_vela_names_cpu_operators_of_a_float_model(students):
    report = vela_report(students["dense"]["float"])
    assert report["npu_op_share"] < 1.0 and report["cpu_ops"] > 0
    assert "FULLY_CONNECTED" in report["cpu_op_types"]


def test_c_array_pair(students, tmp_path):
    path = students["dense"]["int8"]
    info = to_c_array(path, tmp_path / "snn_model.h")
    header = open(info["header"]).read()
    source = open(info["source"]).read()
    blob = open(path, "rb").read()
    assert f"kSnnModelTensorArenaSize = {info['arena_bytes']};" in header
    assert info["arena_bytes"] == TFLiteMicroModel(path).arena_bytes
    assert "kSnnModelInputZeroPoint = -128;" in header
    assert f"g_snn_model_len = {len(blob)};" in source
    assert "alignas(16) const unsigned char g_snn_model[]" in source
    data = bytes(int(h, 16) for h in re.findall(r"0x([0-9a-f]{2})", source))
    assert data == blob


def test_bad_input_names_the_cause(students, digits, tmp_path):
    (x_train, _), _ = digits
    model = students["dense"]["model"]
    target = tmp_path / "keep.tflite"
    target.write_bytes(b"previous")
    flat = x_train[:16].reshape(16, 64)
    with pytest.raises(ValueError, match=r"`representative_data` must have shape \(N, 8, 8, 1\).*\(16, 64\)"):
        to_tflite(model, target, quantize="int8", representative_data=flat)
    with pytest.raises(ValueError, match="needs `representative_data`"):
        to_tflite(model, target, quantize="int8")
    with pytest.raises(ValueError, match="NaN"):
        to_tflite(model, target, quantize="int8",
                  representative_data=np.full((4, 8, 8, 1), np.nan, "float32"))
    with pytest.raises(ValueError, match="`quantize` must be None, 'dynamic' or 'int8'"):
        to_tflite(model, target, quantize="int4")
    with pytest.raises(FileNotFoundError, match="folder of `path` does not exist"):
        to_tflite(model, tmp_path / "missing" / "m.tflite")
    with pytest.raises(FileNotFoundError, match="`vela` is not an existing file"):
        vela_report(students["dense"]["int8"], vela=str(tmp_path / "no-vela"))
    with pytest.raises(ValueError, match="`accelerator` must be one of"):
        vela_report(students["dense"]["int8"], accelerator="ethos-u99")
    with pytest.raises(ValueError, match="`header_path` must end with '.h'"):
        to_c_array(students["dense"]["int8"], tmp_path / "model.hpp")
    with pytest.raises(ValueError, match="`name` must be a C identifier"):
        to_c_array(students["dense"]["int8"], tmp_path / "model.h", name="3d-model")
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.tflite"]


def test_benchmark_fast_mode_writes_the_table(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "export_table", os.path.join(os.path.dirname(os.path.dirname(__file__)),
                                     "benchmarks", "export_table.py"))
    table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(table)
    result = table.main(["--fast", "--json", str(tmp_path / "table.json")])
    row = result["models"][0]
    assert row["bytes"]["int8"] < row["bytes"]["float"]
    assert row["spikes_int8_vs_float"]["spike_values_exactly_0_or_1"]
    assert row["vela_int8"]["npu_op_share"] == 1.0
    assert row["tflm_int8"]["arena_bytes"] > 0 and row["tflm_int8"]["latency_ms_per_inference"] > 0
    assert (tmp_path / "table.json").is_file()
