"""``snnkd convert``: an ANN ``.keras`` to an SNN ``.keras`` (`keras_snnkd.convert.ann_to_snn`)."""

import os

import click
import keras

from keras_snnkd.cli.config import config_option
from keras_snnkd.cli.files import (accuracy, check_input, check_output, data_options, load_data,
                                   load_model, save_model, subset)
from keras_snnkd.cli.output import header, print_results, write_json
from keras_snnkd.convert import ann_to_snn
from keras_snnkd.monitor import firing_rates


@click.command(short_help="Convert an ANN .keras into an SNN .keras.")
@config_option
@click.argument("ann", type=click.Path(exists=True, dir_okay=False))
@data_options
@click.option("--timesteps", "-T", type=click.IntRange(1), default=8, show_default=True,
              help="Time steps of the SNN.")
@click.option("--leak", type=click.FloatRange(0, 1, min_open=True), default=None,
              help="Fraction of membrane lost per step: LIF neurons (default: IF, no leak).")
@click.option("--percentile", type=click.FloatRange(0, 100, min_open=True), default=99.9,
              show_default=True, help="Activation percentile that sets plain-ReLU thresholds.")
@click.option("--calibration-samples", type=click.IntRange(1), default=500, show_default=True,
              help="Training images used to calibrate the thresholds.")
@click.option("--shift", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Initial membrane as a fraction of the threshold.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Where to save the SNN [default: ANN name + _snn.keras].")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Results file [default: --out with .json].")
def convert(ann, data, data_path, limit, timesteps, leak, percentile, calibration_samples, shift,
            out, json_path):
    """Convert a trained ReLU / StepReLU ANN (.keras) into an SNN and save it.

    ReLUs become IF neurons (LIF with --leak), BatchNorm is folded, thresholds
    come from StepReLU levels or from activation percentiles on training images.
    Reports the test accuracy of the ANN and of the SNN, and its firing rates.
    """
    out = check_output(out or os.path.splitext(ann)[0] + "_snn.keras", "--out")
    json_path = check_output(json_path or os.path.splitext(out)[0] + ".json", "--json")
    model = load_model(ann, "ANN")
    (x_train, y_train), (x_test, y_test) = load_data(data, data_path, limit)
    check_input(model, x_train, "ANN", data)
    calibration, _ = subset(x_train, y_train, calibration_samples)
    snn = ann_to_snn(model, timesteps, leak=leak, percentile=percentile, shift=shift,
                     calibration_data=calibration)
    save_model(snn, out)
    result = {
        **header("convert"),
        "ann": ann, "out": out,
        "data": {"name": data, "calibration": len(calibration),
                 "test": len(x_test)},
        "timesteps": timesteps, "leak": leak, "percentile": percentile, "shift": shift,
        "neuron": "LIF" if leak else "IF",
        "ann_accuracy": accuracy(model, x_test, y_test),
        "snn_accuracy": accuracy(snn, x_test, y_test),
        "firing_rates": firing_rates(snn, x_test),
        "layers": [type(layer).__name__ for layer in snn.layers],
    }
    write_json(json_path, result)
    print_results(f"snnkd convert ({keras.backend.backend()})", {
        "ANN test accuracy": f"{result['ann_accuracy']:.2%}",
        f"SNN test accuracy (T={timesteps}, {result['neuron']})": f"{result['snn_accuracy']:.2%}",
        "SNN saved to": out}, json_path)
