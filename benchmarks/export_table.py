"""Edge export table: float vs int8 TFLite of the reference network and a dense student.

For each student (trained briefly on real data) this exports float32, dynamic-range and
full-int8 TFLite files (`keras_snnkd.export.to_tflite`) and measures:

- bytes of each file;
- top-1 agreement with the float Keras model and accuracy drop on the test split, in
  LiteRT (default XNNPACK kernels) and in the TensorFlow Lite Micro interpreter;
- int8 with plain min/max membrane ranges vs the searched ranges (the default);
- spike exactness layer by layer: the share of int8 spikes (read from LiteRT's
  intermediate tensors) equal to the float model's spikes, per neuron layer;
- TFLM tensor-arena bytes (measured) and TFLM latency per inference on this CPU;
- Vela (Ethos-U55-128): share of operators on the NPU, SRAM, flash, cycles, latency;
- for the dense student: the same after one epoch of quantization-aware fine-tuning.

Usage:
    python benchmarks/export_table.py   # writes benchmarks/results/export_table.json
    python benchmarks/export_table.py --fast --json out.json   # small and quick (tested)
"""

import argparse
import json
import os
import re
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_snnkd import datasets, models  # noqa: E402
from keras_snnkd.export import (  # noqa: E402
    LiteRTModel, TFLiteMicroModel, inspect_tflite, quantization_aware_finetune, to_tflite,
    vela_report)

HERE = os.path.dirname(os.path.abspath(__file__))


def train(model, x, y, epochs, lr):
    steps = epochs * -(-len(x) // 64)
    model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(lr, steps)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x, y, batch_size=64, epochs=epochs, verbose="auto")
    return time.perf_counter() - start


def agreement(out, reference, labels):
    return {
        "agreement": float(np.mean(out.argmax(1) == reference.argmax(1))),
        "accuracy": float(np.mean(out.argmax(1) == labels)),
        "accuracy_drop_points": 100.0 * float(np.mean(reference.argmax(1) == labels)
                                              - np.mean(out.argmax(1) == labels)),
    }


def spike_exactness(model, path, x):
    """Share of int8 spikes equal to the float model's, per neuron layer (LiteRT tensors)."""
    from ai_edge_litert.interpreter import Interpreter

    names = [layer.name for layer in model.layers if "lif" in layer.name]
    probe = keras.Model(model.inputs, [model.get_layer(n).output for n in names])
    expected = probe.predict(x, verbose=0, batch_size=100)
    expected = expected if isinstance(expected, list) else [expected]
    interpreter = Interpreter(model_path=path, experimental_preserve_all_tensors=True)
    interpreter.allocate_tensors()
    source = interpreter.get_input_details()[0]
    scale, zero = source["quantization"]
    tensors = {}
    for tensor in interpreter.get_tensor_details():
        match = re.match(r"(.+)_t(\d+)/Relu", tensor["name"])
        if match and match.group(1) in names:
            tensors[(match.group(1), int(match.group(2)))] = tensor
    equal = {n: 0 for n in names}
    count = {n: 0 for n in names}
    exact = True
    for i, sample in enumerate(x):
        interpreter.set_tensor(source["index"], np.clip(
            np.round(sample[None] / scale + zero), -128, 127).astype("int8"))
        interpreter.invoke()
        for (name, t), tensor in tensors.items():
            s, z = tensor["quantization"]
            codes = interpreter.get_tensor(tensor["index"])[0].astype("int64") - z
            exact &= bool(np.all((codes == 0) | (codes == 255)))
            want = expected[names.index(name)][i, t]
            equal[name] += int(np.sum((codes == 255) == (want == 1.0)))
            count[name] += want.size
    return {"spike_values_exactly_0_or_1": exact,
            "equal_to_float_per_layer": {n: equal[n] / count[n] for n in names}}


def measure(name, model, data, folder, spike_samples, qat=None):
    (x_train, y_train), (x_test, y_test) = data
    representative = x_train[np.random.default_rng(0).permutation(len(x_train))[:256]]
    reference = model.predict(x_test, verbose=0, batch_size=256)
    row = {"model": name, "params": int(model.count_params()),
           "float_keras_accuracy": float(np.mean(reference.argmax(1) == y_test))}
    paths = {}
    start = time.perf_counter()
    paths["float"] = to_tflite(model, os.path.join(folder, f"{name}_float.tflite"))
    paths["dynamic"] = to_tflite(model, os.path.join(folder, f"{name}_dynamic.tflite"),
                                 quantize="dynamic")
    row["float_export_s"] = time.perf_counter() - start
    start = time.perf_counter()
    paths["int8_minmax"] = to_tflite(
        model, os.path.join(folder, f"{name}_int8_minmax.tflite"), quantize="int8",
        representative_data=representative, search_ranges=False)
    row["int8_minmax_export_s"] = time.perf_counter() - start
    start = time.perf_counter()
    paths["int8"] = to_tflite(model, os.path.join(folder, f"{name}_int8.tflite"),
                              quantize="int8", representative_data=representative)
    row["int8_export_s"] = time.perf_counter() - start
    row["bytes"] = {kind: os.path.getsize(path) for kind, path in paths.items()}
    info = inspect_tflite(paths["int8"])
    row["int8_tensor_dtypes"] = sorted(info["dtypes"])
    row["int8_operators"] = len(info["operators"])
    row["litert_float"] = agreement(LiteRTModel(paths["float"]).predict(x_test), reference, y_test)
    row["litert_dynamic"] = agreement(LiteRTModel(paths["dynamic"]).predict(x_test), reference,
                                      y_test)
    row["litert_int8_minmax_ranges"] = agreement(LiteRTModel(paths["int8_minmax"]).predict(x_test),
                                                 reference, y_test)
    row["litert_int8"] = agreement(LiteRTModel(paths["int8"]).predict(x_test), reference, y_test)
    row["litert_int8_reference_kernels"] = agreement(
        LiteRTModel(paths["int8"], reference_kernels=True).predict(x_test), reference, y_test)
    for kind in ("float", "int8"):
        micro = TFLiteMicroModel(paths[kind])
        out, latency = micro.predict(x_test, return_latency=True)
        row[f"tflm_{kind}"] = {**agreement(out, reference, y_test),
                               "arena_bytes": micro.arena_bytes,
                               "latency_ms_per_inference": 1e3 * latency}
    row["spikes_int8_vs_float"] = spike_exactness(model, paths["int8"], x_test[:spike_samples])
    row["vela_int8"] = {k: v for k, v in vela_report(paths["int8"]).items()
                        if k != "optimized_path"}
    if qat is not None:
        quantization_aware_finetune(model, x_train, y_train, epochs=qat, verbose=0)
        tuned_reference = model.predict(x_test, verbose=0, batch_size=256)
        path = to_tflite(model, os.path.join(folder, f"{name}_qat_int8.tflite"),
                         quantize="int8", representative_data=representative)
        row["after_qat"] = {
            "float_keras_accuracy": float(np.mean(tuned_reference.argmax(1) == y_test)),
            "litert_int8": agreement(LiteRTModel(path).predict(x_test), tuned_reference, y_test),
        }
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true",
                        help="dense student only, 1 epoch, 120 test images")
    parser.add_argument("--json", default=os.path.join(HERE, "results", "export_table.json"))
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(0)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        digits = datasets.load_digits()
        if args.fast:
            (x_train, y_train), (x_test, y_test) = digits
            digits = ((x_train, y_train), (x_test[:120], y_test[:120]))
        dense = models.dense_snn(timesteps=4, input_shape=(8, 8, 1), hidden=(64,))
        seconds = train(dense, *digits[0], epochs=1 if args.fast else 30, lr=5e-3)
        row = measure("dense_snn (digits 8x8, T=4, hidden 64)", dense, digits, folder,
                      spike_samples=20 if args.fast else 360, qat=1)
        rows.append({**row, "train_s": seconds})
        if not args.fast:
            mnist = datasets.load_mnist_subset()
            reference = models.reference_snn(timesteps=4)
            seconds = train(reference, *mnist[0], epochs=5, lr=2e-3)
            row = measure("reference_snn (MNIST subset 28x28, T=4)", reference, mnist, folder,
                          spike_samples=200)
            rows.append({**row, "train_s": seconds})
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "keras_backend": keras.backend.backend(),
        "cpu_count": os.cpu_count(),
        "note": "TFLM latency is the TFLite Micro reference kernels on this host CPU, not a "
                "microcontroller; Vela cycles/latency are Vela's estimates for Ethos-U55-128 "
                "(default system config).",
        "models": rows,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as handle:
        json.dump(result, handle, indent=2)
    for row in rows:
        print(f"{row['model']}: int8 agreement LiteRT {row['litert_int8']['agreement']:.4f} "
              f"TFLM {row['tflm_int8']['agreement']:.4f}, drop "
              f"{row['tflm_int8']['accuracy_drop_points']:+.2f} points, NPU share "
              f"{row['vela_int8']['npu_op_share']:.0%}, bytes {row['bytes']}")
    return result


if __name__ == "__main__":
    main()
