"""``snnkd bench``: inference and training speed of a ``.keras`` on this machine and backend."""

import statistics
import time

import click
import keras
import numpy as np

from keras_snnkd.cli.config import config_option
from keras_snnkd.cli.files import check_output, load_model
from keras_snnkd.cli.output import header, print_results, write_json
from keras_snnkd.export import LiteRTModel, TFLiteMicroModel


def _median_seconds(step, warmup, repeats):
    """Median wall time of ``step()`` over ``repeats`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@click.command(short_help="Inference and training speed of a .keras.")
@config_option
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True)
@click.option("--repeats", type=click.IntRange(1), default=20, show_default=True,
              help="Timed batches (the median is reported).")
@click.option("--warmup", type=click.IntRange(0), default=3, show_default=True,
              help="Untimed batches first (tracing, compilation).")
@click.option("--train/--no-train", default=True, show_default=True,
              help="Also time training steps (forward + backward + Adam, cross-entropy on "
                   "random labels).")
@click.option("--tflite", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Also time this .tflite per sample in LiteRT and TensorFlow Lite Micro.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default="bench.json",
              show_default=True, help="Results file.")
def bench(model, batch_size, repeats, warmup, train, tflite, seed, json_path):
    """Time MODEL (.keras) on random inputs: batches per second for inference
    (`predict_on_batch`) and training (`train_on_batch`), on the current backend.

    Values do not change the work of a dense SNN simulation, so random inputs
    in [0, 1) of the model's input shape are used.
    """
    json_path = check_output(json_path, "--json")
    keras_model = load_model(model, "model")
    shape = tuple(keras_model.inputs[0].shape[1:])
    if None in shape:
        raise click.UsageError(f"the model input shape {shape} has free dimensions; bench "
                               "needs a fixed input shape.")
    rng = np.random.default_rng(seed)
    x = rng.random((batch_size, *shape), dtype="float32")
    result = {**header("bench"), "model": model, "params": keras_model.count_params(),
              "batch_size": batch_size, "repeats": repeats, "warmup": warmup}
    seconds = _median_seconds(lambda: keras_model.predict_on_batch(x), warmup, repeats)
    result["predict"] = {"seconds_per_batch": seconds, "samples_per_second": batch_size / seconds}
    rows = {"inference": f"{batch_size / seconds:,.0f} samples/s ({seconds * 1e3:.1f} ms "
                         f"per batch of {batch_size})"}
    if train:
        outputs = keras_model.outputs[0].shape[-1]
        y = rng.integers(0, outputs, batch_size)
        keras.utils.set_random_seed(seed)
        keras_model.compile(optimizer="adam",
                            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        seconds = _median_seconds(lambda: keras_model.train_on_batch(x, y), warmup, repeats)
        result["train"] = {"seconds_per_batch": seconds,
                           "samples_per_second": batch_size / seconds}
        rows["training"] = (f"{batch_size / seconds:,.0f} samples/s ({seconds * 1e3:.1f} ms "
                            "per batch)")
    if tflite is not None:
        runtimes = {"litert": LiteRTModel(tflite), "tflite_micro": TFLiteMicroModel(tflite)}
        sample = x[:1]
        result["tflite"] = {"file": tflite}
        for name, runtime in runtimes.items():
            if runtime.input_shape != shape:
                raise click.UsageError(f"--tflite {tflite} takes inputs {runtime.input_shape}, "
                                       f"the model {shape}.")
            seconds = _median_seconds(lambda r=runtime: r.predict(sample), warmup, repeats)
            result["tflite"][f"{name}_ms_per_sample"] = seconds * 1e3
            rows[f"{name} (host CPU)"] = f"{seconds * 1e3:.2f} ms per sample"
    write_json(json_path, result)
    print_results(f"snnkd bench ({result['backend']}, {model})", rows, json_path)
