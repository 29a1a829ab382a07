"""``snnkd export``: a ``.keras`` to TFLite, a C array for firmware, and runtime checks."""

import os

import click
import numpy as np

from keras_snnkd.cli.config import config_option
from keras_snnkd.cli.files import (check_input, check_output, data_options, load_data, load_model,
                                   subset)
from keras_snnkd.cli.output import header, print_results, write_json
from keras_snnkd.export import LiteRTModel, TFLiteMicroModel, to_c_array, to_tflite, vela_report
from keras_snnkd.export.vela import ACCELERATORS

QUANTIZE = {"int8": "int8", "dynamic": "dynamic", "float": None}


@click.command(short_help="Export a .keras to TFLite (int8), a C array; check it runs.")
@config_option
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@data_options
@click.option("--quantize", type=click.Choice(list(QUANTIZE)), default="int8", show_default=True,
              help="int8: integer-only graph for microcontrollers and NPUs; dynamic: int8 "
                   "weights; float: float32.")
@click.option("--representative-samples", type=click.IntRange(1), default=256,
              show_default=True, help="Training images that calibrate the int8 ranges.")
@click.option("--timesteps", "-T", type=click.IntRange(1), default=None,
              help="Time steps to unroll [default: the model's own].")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="The .tflite file [default: MODEL name + _<quantize>.tflite].")
@click.option("--c-header", type=click.Path(dir_okay=False), default=None,
              help="Also write the model as a C array: this .h and the .cc beside it.")
@click.option("--check-samples", type=click.IntRange(0), default=200, show_default=True,
              help="Test images run in the exported file (TFLite Micro, or LiteRT for "
                   "dynamic) and compared with the Keras model; 0 skips the check.")
@click.option("--vela/--no-vela", default=False, show_default=True,
              help="Compile for an Arm Ethos-U NPU with Vela and report NPU placement (int8).")
@click.option("--accelerator", type=click.Choice(ACCELERATORS), default="ethos-u55-128",
              show_default=True, help="Ethos-U configuration for --vela.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Results file [default: --out with .json].")
def export(model, data, data_path, limit, quantize, representative_samples, timesteps, out,
           c_header, check_samples, vela, accelerator, json_path):
    """Export MODEL (.keras) to a static, batch-1 TFLite file for the edge.

    int8 files have int8 input/output and no float tensor (spikes stay exactly
    0/1). The file is run on test images in TensorFlow Lite Micro (the
    microcontroller runtime) and its top-1 agreement with the Keras model is
    reported; --c-header writes firmware sources, --vela an Ethos-U report.
    """
    if vela and quantize != "int8":
        raise click.UsageError("--vela needs --quantize int8 (the NPU runs int8 only).")
    if c_header is not None and not c_header.endswith(".h"):
        raise click.BadParameter(f"must end with .h, got {c_header}.", param_hint="'--c-header'")
    out = check_output(out or f"{os.path.splitext(model)[0]}_{quantize}.tflite", "--out")
    json_path = check_output(json_path or os.path.splitext(out)[0] + ".json", "--json")
    check_output(c_header, "--c-header")
    keras_model = load_model(model, "model")
    (x_train, y_train), (x_test, y_test) = load_data(data, data_path, limit)
    check_input(keras_model, x_train, "model", data)
    representative = (subset(x_train, y_train, representative_samples)[0]
                      if quantize == "int8" else None)
    to_tflite(keras_model, out, quantize=QUANTIZE[quantize], representative_data=representative,
              timesteps=timesteps)
    result = {**header("export"), "model": model, "out": out, "quantize": quantize,
              "bytes": os.path.getsize(out)}
    rows = {"file": out, "size": f"{result['bytes'] / 1024:.1f} KiB"}
    if check_samples:
        x, y = subset(x_test, y_test, check_samples)
        # TFLite Micro has no dynamic-range kernels: check those files in LiteRT.
        runtime = LiteRTModel(out) if quantize == "dynamic" else TFLiteMicroModel(out)
        exported = runtime.predict(x).argmax(-1)
        reference = keras_model.predict(x, batch_size=256, verbose=0).argmax(-1)
        result["check"] = {
            "runtime": type(runtime).__name__, "samples": len(x),
            "agreement": float(np.mean(exported == reference)),
            "exported_accuracy": float(np.mean(exported == y)),
            "keras_accuracy": float(np.mean(reference == y)),
        }
        if isinstance(runtime, TFLiteMicroModel):
            result["check"]["arena_bytes"] = runtime.arena_bytes
        rows[f"top-1 agreement with Keras ({result['check']['runtime']})"] = \
            f"{result['check']['agreement']:.1%}"
        rows["accuracy: Keras / exported"] = (f"{result['check']['keras_accuracy']:.1%} / "
                                              f"{result['check']['exported_accuracy']:.1%}")
    if c_header is not None:
        info = to_c_array(out, c_header)
        result["c_array"] = {k: info[k] for k in ("header", "source", "model_bytes",
                                                  "arena_bytes")}
        rows["C array"] = f"{info['header']}, {info['source']}"
        rows["TFLite Micro arena"] = f"{info['arena_bytes'] / 1024:.1f} KiB"
    if vela:
        report = vela_report(out, accelerator=accelerator)
        result["vela"] = {k: v for k, v in report.items() if k != "optimized_path"}
        rows[f"{accelerator} NPU operators"] = (f"{report['npu_ops']}/"
                                                f"{report['npu_ops'] + report['cpu_ops']}")
    write_json(json_path, result)
    print_results(f"snnkd export ({quantize})", rows, json_path)
