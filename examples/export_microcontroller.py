"""Export a spiking network to a microcontroller: int8 TFLite, TFLite Micro, C array.

Trains a small dense SNN (``models.dense_snn``: Flatten -> Dense(64) -> LIF -> Dense(10),
T = 4) on scikit-learn's 8x8 digits (1,437 training / 360 test images, bundled), then:

1. exports it to a fully int8 TFLite file (`to_tflite`, 256 calibration images);
2. runs that file in the TensorFlow Lite Micro interpreter (`TFLiteMicroModel`) on every
   test image: top-1 agreement with the float Keras model, int8 accuracy, the measured
   tensor arena and the host-CPU latency of the reference kernels;
3. writes the C array a firmware build embeds (`to_c_array`: ``snn_model.h`` with the
   arena size and input/output quantization, ``snn_model.cc`` with the aligned bytes),
   compiles it with a small host program (``check_model.cc``, when a C++ compiler is
   installed) that checks the array holds exactly the file's bytes, 16-byte aligned;
4. lists the TFLite operators the firmware's op resolver must register;
5. compiles the file for an Arm Ethos-U55 NPU with Vela (`vela_report`).

    python examples/export_microcontroller.py           # full run, about a minute
    python examples/export_microcontroller.py --fast    # smoke run (used by the tests)

Writes ``export_microcontroller.json`` (``_fast.json`` in fast mode) and the folder
``export_microcontroller/`` (model files) to ``--out`` (default ``examples/results``).
"""

import argparse
import json
import os
import shutil
import subprocess
import time

import keras
import numpy as np

from keras_snnkd import datasets, models
from keras_snnkd.export import (TFLiteMicroModel, inspect_tflite, to_c_array, to_tflite,
                                vela_report)

HERE = os.path.dirname(os.path.abspath(__file__))
NAME = "export_microcontroller"

CHECK_PROGRAM = r"""// check_model.cc: the C array holds exactly the .tflite bytes, aligned for TFLM.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "snn_model.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  std::FILE* file = std::fopen(argv[1], "rb");
  if (file == nullptr) return 2;
  std::vector<unsigned char> bytes;
  for (int c = std::fgetc(file); c != EOF; c = std::fgetc(file)) bytes.push_back(c);
  std::fclose(file);
  bool same = bytes.size() == g_snn_model_len &&
              std::memcmp(bytes.data(), g_snn_model, bytes.size()) == 0;
  bool aligned = reinterpret_cast<std::uintptr_t>(g_snn_model) % 16 == 0;
  std::printf("{\"same_bytes\": %s, \"aligned_16\": %s, \"len\": %u, \"arena\": %d}\n",
              same ? "true" : "false", aligned ? "true" : "false", g_snn_model_len,
              kSnnModelTensorArenaSize);
  return same && aligned ? 0 : 1;
}
"""


def train(data, epochs, seed):
    """The dense SNN trained on labels (Adam 5e-3, cosine decay, batch 32)."""
    (x_train, y_train), _ = data
    keras.utils.set_random_seed(seed)
    model = models.dense_snn(timesteps=4, input_shape=(8, 8, 1), hidden=(64,))
    steps = epochs * -(-len(x_train) // 32)
    model.compile(keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(5e-3, steps)),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=32, epochs=epochs, verbose=2)
    return model


def compile_check(folder, tflite_path):
    """Builds check_model.cc with snn_model.cc and runs it on the .tflite file."""
    compiler = shutil.which("g++") or shutil.which("clang++")
    if compiler is None:
        return {"compiled": False, "reason": "no C++ compiler (g++ or clang++) on PATH"}
    with open(os.path.join(folder, "check_model.cc"), "w") as handle:
        handle.write(CHECK_PROGRAM)
    binary = os.path.join(folder, "check_model")
    subprocess.run([compiler, "-std=c++17", "-O1", "-o", binary, "check_model.cc",
                    "snn_model.cc"], cwd=folder, check=True, capture_output=True, text=True)
    proc = subprocess.run([binary, tflite_path], capture_output=True, text=True)
    os.remove(binary)
    return {"compiled": True, "compiler": os.path.basename(compiler),
            "exit_code": proc.returncode, **json.loads(proc.stdout)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fast", action="store_true", help="1 epoch, 64 test images")
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    args = parser.parse_args(argv)
    if args.fast:
        args.epochs = 1
    folder = os.path.join(args.out, NAME + ("_fast" if args.fast else ""))
    os.makedirs(folder, exist_ok=True)
    data = datasets.load_digits()
    (x_train, _), (x_test, y_test) = data
    if args.fast:
        x_test, y_test = x_test[:64], y_test[:64]

    start = time.perf_counter()
    model = train(data, args.epochs, args.seed)
    train_seconds = time.perf_counter() - start
    float_pred = model.predict(x_test, verbose=0).argmax(-1)

    start = time.perf_counter()
    tflite_path = to_tflite(model, os.path.join(folder, "snn_model.tflite"), quantize="int8",
                            representative_data=x_train[:256])
    export_seconds = time.perf_counter() - start
    micro = TFLiteMicroModel(tflite_path)
    int8_out, latency = micro.predict(x_test, return_latency=True)
    int8_pred = int8_out.argmax(-1)
    c_array = to_c_array(tflite_path, os.path.join(folder, "snn_model.h"))
    operators = inspect_tflite(tflite_path)["operators"]
    vela = vela_report(tflite_path)

    result = {
        "example": NAME, "backend": keras.backend.backend(), "fast": args.fast,
        "model": "dense_snn(T=4, hidden=(64,)) on 8x8 digits", "params": model.count_params(),
        "epochs": args.epochs, "train_images": len(x_train), "test_images": len(x_test),
        "train_seconds": round(train_seconds, 1), "export_seconds": round(export_seconds, 1),
        "float_accuracy": float(np.mean(float_pred == y_test)),
        "tflite_micro": {
            "accuracy": float(np.mean(int8_pred == y_test)),
            "agreement_with_float": float(np.mean(int8_pred == float_pred)),
            "arena_bytes": micro.arena_bytes,
            "latency_ms_host": latency * 1e3,
        },
        "tflite_bytes": os.path.getsize(tflite_path),
        "c_array": {"header": os.path.relpath(c_array["header"], args.out),
                    "source": os.path.relpath(c_array["source"], args.out),
                    "input": c_array["input"], "output": c_array["output"]},
        "c_array_check": compile_check(folder, os.path.abspath(tflite_path)),
        "op_resolver": sorted(set(operators)),
        "operators": len(operators),
        "ethos_u55": {k: vela[k] for k in ("npu_ops", "cpu_ops", "npu_op_share", "cycles",
                                            "latency_s", "sram_bytes", "flash_bytes")},
    }
    path = os.path.join(args.out, NAME + ("_fast" if args.fast else "") + ".json")
    with open(path, "w") as handle:
        json.dump(result, handle, indent=2)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
