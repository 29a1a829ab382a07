"""Pruning table: sparsity vs accuracy, TFLite Micro agreement, flash and NPU cycles.

The reference network (`reference_snn`, T = 4, trained on the 4,000 MNIST-subset images)
is pruned with `keras_snnkd.export.prune` (tfmot on the tf_keras mirror, polynomial
schedule, distilled from the unpruned model) to 0 / 50 / 75 / 90 % zeros per Dense/Conv2D
kernel. Each model is exported to int8 TFLite and measured:

- float Keras test accuracy, achieved kernel sparsity (smallest over the kernels);
- int8 in TensorFlow Lite Micro: test accuracy and top-1 agreement with its float model;
- ``.tflite`` bytes; Vela (Ethos-U55-128): off-chip flash after Vela's weight
  compression, SRAM, estimated cycles, NPU operator share.

Two probes go with it:

- weight clustering: every kernel of the unpruned model snapped to 16 values (k-means,
  no fine-tuning), to see whether Vela's flash shrinks enough to be worth tfmot's
  ``cluster_weights``;
- QAT vs post-training int8, on the reference network and a dense student (8x8 digits):
  TFLM accuracy and agreement with the float model for plain int8,
  `quantization_aware_finetune` (Keras 3 weight fake-quant) and
  ``to_tflite(quantize="qat")`` (tfmot QAT on the mirror), one epoch each.

Usage:
    python benchmarks/prune_table.py   # writes benchmarks/results/prune_table.json
    python benchmarks/prune_table.py --fast --json out.json   # dense student, quick (tested)
"""

import argparse
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_snnkd import datasets, models  # noqa: E402
from keras_snnkd.export import (  # noqa: E402
    TFLiteMicroModel, kernel_sparsity, prune, quantization_aware_finetune, to_tflite,
    vela_report)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from export_table import agreement, train  # noqa: E402

SPARSITIES = (0.0, 0.5, 0.75, 0.9)
CLUSTERS = 16


def int8_row(model, name, data, representative, folder, reference=None):
    """Exports ``model`` to int8 and measures it in TFLM (against ``reference``,
    default its own float outputs) and Vela."""
    x_test, y_test = data[1]
    floats = model.predict(x_test, verbose=0, batch_size=250)
    reference = floats if reference is None else reference
    path = to_tflite(model, os.path.join(folder, f"{name}.tflite"), quantize="int8",
                     representative_data=representative)
    return {"float_accuracy": float(np.mean(floats.argmax(1) == y_test)),
            **tflite_row(path, x_test, y_test, reference)}


def tflite_row(path, x_test, y_test, reference):
    """TFLM accuracy and agreement, file bytes and Vela figures of one ``.tflite``."""
    vela = vela_report(path)
    return {"tflm": agreement(TFLiteMicroModel(path).predict(x_test), reference, y_test),
            "tflite_bytes": os.path.getsize(path),
            "vela": {k: vela[k] for k in ("flash_bytes", "sram_bytes", "cycles", "npu_cycles",
                                          "npu_op_share", "latency_s")}}


def cluster(model, clusters):
    """A copy of ``model`` whose Dense/Conv2D kernels each hold ``clusters`` values."""
    from sklearn.cluster import KMeans

    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    for layer in copy.layers:
        inner = getattr(layer, "layer", layer)
        if isinstance(inner, (keras.layers.Dense, keras.layers.Conv2D)):
            kernel = keras.ops.convert_to_numpy(inner.kernel)
            values = kernel.reshape(-1, 1)
            fit = KMeans(clusters, n_init=1, random_state=0).fit(values[:: max(1, len(values)
                                                                           // 20000)])
            snapped = fit.cluster_centers_[fit.predict(values), 0].reshape(kernel.shape)
            inner.kernel.assign(snapped.astype("float32"))
    return copy


def qat_rows(model, name, data, representative, folder, epochs):
    """Plain int8 vs Keras 3 weight QAT vs tfmot QAT, against the float model."""
    (x_train, y_train), (x_test, y_test) = data
    reference = model.predict(x_test, verbose=0, batch_size=250)
    rows = {"float_accuracy": float(np.mean(reference.argmax(1) == y_test))}
    start = time.perf_counter()
    rows["ptq_int8"] = int8_row(model, f"{name}_ptq", data, representative, folder)
    rows["ptq_int8"]["seconds"] = time.perf_counter() - start
    start = time.perf_counter()
    path = to_tflite(model, os.path.join(folder, f"{name}_tfmot_qat.tflite"), quantize="qat",
                     qat_data=(x_train, y_train), qat_epochs=epochs,
                     representative_data=representative)
    rows["tfmot_qat_int8"] = {**tflite_row(path, x_test, y_test, reference),
                              "seconds": time.perf_counter() - start}
    start = time.perf_counter()
    tuned = keras.models.clone_model(model)
    tuned.set_weights(model.get_weights())
    quantization_aware_finetune(tuned, x_train, y_train, epochs=epochs, verbose=0)
    rows["keras_weight_qat_int8"] = {
        **int8_row(tuned, f"{name}_keras_qat", data, representative, folder, reference),
        "seconds": time.perf_counter() - start}
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true",
                        help="dense student on the 8x8 digits, sparsity 0 and 75 %%, 1 pruning "
                             "epoch, 120 test images")
    parser.add_argument("--epochs", type=int, default=4, help="pruning fine-tuning epochs")
    parser.add_argument("--json", default=os.path.join(HERE, "results", "prune_table.json"))
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(0)
    digits = datasets.load_digits()
    if args.fast:
        (x_train, y_train), (x_test, y_test) = digits
        digits = ((x_train, y_train), (x_test[:120], y_test[:120]))
        data, epochs = digits, 1
        model = models.dense_snn(timesteps=4, input_shape=(8, 8, 1), hidden=(64,))
        name, train_s = "dense_snn (digits 8x8, T=4, hidden 64)", train(model, *data[0], 3, 5e-3)
    else:
        data, epochs = datasets.load_mnist_subset(), args.epochs
        model = models.reference_snn(timesteps=4)
        name = "reference_snn (MNIST subset 28x28, T=4)"
        train_s = train(model, *data[0], epochs=5, lr=2e-3)
    (x_train, y_train), (x_test, y_test) = data
    representative = x_train[np.random.default_rng(0).permutation(len(x_train))[:256]]
    result = {"date": time.strftime("%Y-%m-%d"), "keras_backend": keras.backend.backend(),
              "cpu_count": os.cpu_count(), "model": name, "params": int(model.count_params()),
              "train_s": train_s, "prune_epochs": epochs, "test_images": int(len(x_test)),
              "accelerator": "ethos-u55-128", "rows": []}
    with tempfile.TemporaryDirectory() as folder:
        for sparsity in (0.0, 0.75) if args.fast else SPARSITIES:
            start = time.perf_counter()
            pruned = model if sparsity == 0 else prune(model, x_train, y_train,
                                                       sparsity=sparsity, epochs=epochs,
                                                       verbose=0)
            seconds = time.perf_counter() - start
            row = int8_row(pruned, f"pruned_{sparsity}", data, representative, folder)
            row.update(sparsity=sparsity, prune_s=seconds,
                       kernel_sparsity=min(kernel_sparsity(pruned).values()))
            result["rows"].append(row)
            print(f"sparsity {sparsity:.2f}: float {row['float_accuracy']:.4f} TFLM "
                  f"{row['tflm']['accuracy']:.4f} agreement {row['tflm']['agreement']:.4f} "
                  f"bytes {row['tflite_bytes']} flash {row['vela']['flash_bytes']} cycles "
                  f"{row['vela']['cycles']}", flush=True)
        clustered = cluster(model, CLUSTERS)
        result["clustered"] = {"clusters_per_kernel": CLUSTERS, "fine_tuned": False,
                               **int8_row(clustered, "clustered", data, representative,
                                          folder)}
        result["qat"] = {name: qat_rows(model, "main", data, representative, folder, 1)}
        if not args.fast:
            dense = models.dense_snn(timesteps=4, input_shape=(8, 8, 1), hidden=(64,))
            dense_name = "dense_snn (digits 8x8, T=4, hidden 64)"
            train(dense, *digits[0], epochs=30, lr=5e-3)
            dense_rep = digits[0][0][np.random.default_rng(0).permutation(
                len(digits[0][0]))[:256]]
            result["qat"][dense_name] = qat_rows(dense, "dense", digits, dense_rep, folder, 1)
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as handle:
        json.dump(result, handle, indent=2)
    return result


if __name__ == "__main__":
    main()
