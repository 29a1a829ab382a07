"""The steps of ``snnkd demo``: each does one job of the library on real data and
returns what the next steps need plus its section of ``summary.json``."""

import os

import keras
import numpy as np

from keras_snnkd import cost, models
from keras_snnkd.cli.files import save_model, subset
from keras_snnkd.cost import plots
from keras_snnkd.distill import Distiller, ResponseKD, cache_teacher
from keras_snnkd.export import TFLiteMicroModel, to_c_array, to_tflite, vela_report
from keras_snnkd.layers import MeanOverTime, RepeatEncoder, TimeFolded
from keras_snnkd.neurons import LIF

REPRESENTATIVE = 256  # calibration images of the int8 export
LABEL_WEIGHT = 0.5  # weight of the cross-entropy next to ResponseKD


def demo_student(timesteps, input_shape=(28, 28, 1), num_classes=10):
    """The demo's student: a spiking CNN with 8x fewer parameters than the teacher.

    ``Conv3x3(8) -> LIF -> AvgPool2 -> Conv3x3(16) -> LIF -> AvgPool2 -> Flatten
    -> Dense(64) -> LIF -> Dense(10)``, logits = mean over time, direct encoding
    (the first convolution runs once, before `RepeatEncoder`).
    """
    fold, layers = TimeFolded, keras.layers
    return keras.Sequential([
        keras.Input(input_shape),
        layers.Conv2D(8, 3, padding="same"),
        RepeatEncoder(timesteps), LIF(beta=0.9),
        fold(layers.AveragePooling2D(2)),
        fold(layers.Conv2D(16, 3, padding="same")), LIF(beta=0.9),
        fold(layers.AveragePooling2D(2)), fold(layers.Flatten()),
        fold(layers.Dense(64)), LIF(beta=0.9),
        fold(layers.Dense(num_classes)), MeanOverTime(),
    ], name="snn_student")


def _compile(model, learning_rate, epochs, samples, batch_size):
    """Adam with cosine decay to 0 over the run, cross-entropy on logits, accuracy."""
    steps = max(1, epochs * -(-samples // batch_size))
    model.compile(optimizer=keras.optimizers.Adam(
                      keras.optimizers.schedules.CosineDecay(learning_rate, steps)),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])


def train_teacher(data, epochs, batch_size, verbose, path):
    """The reference ANN trained on labels (Adam 2e-3), saved to ``path``."""
    (x_train, y_train), (x_test, y_test) = data
    teacher = models.reference_ann()
    _compile(teacher, 2e-3, epochs, len(x_train), batch_size)
    teacher.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, verbose=verbose)
    logits = teacher.predict(x_test, batch_size=256, verbose=0)
    save_model(teacher, path)
    return teacher, {"model": teacher.name, "params": teacher.count_params(), "epochs": epochs,
                     "test_accuracy": float(np.mean(logits.argmax(-1) == y_test))}


def distill_student(teacher, data, timesteps, epochs, batch_size, temperature, verbose,
                    path):
    """`demo_student` trained with ``ResponseKD + 0.5 x cross-entropy`` (Adam 3e-3),
    the teacher's outputs computed once; saved to ``path``. Also returns its test logits."""
    (x_train, y_train), (x_test, y_test) = data
    student = demo_student(timesteps)
    distiller = Distiller(teacher, student, [ResponseKD(temperature=temperature)],
                          student_loss_weight=LABEL_WEIGHT)
    _compile(distiller, 3e-3, epochs, len(x_train), batch_size)
    cached = cache_teacher(distiller, x_train, verbose=verbose)
    distiller.fit(cached, y_train, batch_size=batch_size, epochs=epochs, verbose=verbose)
    logits = student.predict(x_test, batch_size=256, verbose=0)
    save_model(student, path)
    return student, logits, {
        "model": student.name, "params": student.count_params(), "timesteps": timesteps,
        "epochs": epochs,
        "distillation": f"ResponseKD(temperature={temperature}) + {LABEL_WEIGHT} x "
                        "cross-entropy on the labels",
        "test_accuracy": float(np.mean(logits.argmax(-1) == y_test)),
    }


def estimate_energy(student, teacher, x, profile, folder):
    """Spike-aware cost of the student against the teacher and against its own ANN
    twin; writes ``cost.json``, ``cost_table.md`` and three plots to ``folder``."""
    report = cost.estimate(student, x, profile=profile, ann=teacher)
    report.to_json(os.path.join(folder, "cost.json"))
    with open(os.path.join(folder, "cost_table.md"), "w", encoding="utf-8") as handle:
        handle.write(report.to_markdown())
    plots.plot_energy(report, os.path.join(folder, "cost_energy.png"))
    plots.plot_firing_rates(report, os.path.join(folder, "cost_firing_rates.png"))
    plots.plot_raster(report, next(iter(report.firing_rates)),
                      os.path.join(folder, "cost_raster.png"))
    twin = report.totals["ann_energy_pj"]
    return {
        "profile": report.profile.name,
        "student_uj": report.energy_pj / 1e6,
        "teacher_uj": report.reference_energy_pj / 1e6,
        "student_ann_twin_uj": twin / 1e6,
        "ratio_to_teacher": report.ratio,
        "ratio_to_ann_twin": report.energy_pj / twin,
        "firing_rate": report.totals["firing_rate"],
        "firing_rates": report.firing_rates,
        "student_ops": {k: report.totals[k] for k in ("macs", "acs", "adds", "neuron_updates")},
        "teacher_macs": report.reference.totals["macs"],
    }


def export_int8(student, train, path):
    """The student as a fully int8 TFLite file, calibrated on a random draw of the
    training images (all classes: the MNIST subset is sorted by class)."""
    representative, _ = subset(*train, REPRESENTATIVE)
    to_tflite(student, path, quantize="int8", representative_data=representative)
    return {"file": os.path.basename(path), "bytes": os.path.getsize(path), "quantize": "int8",
            "representative_images": len(representative)}


def run_on_micro(tflite_path, x_test, y_test, float_logits, header_path, advance):
    """The int8 file in TensorFlow Lite Micro on every test image, against the float
    student; then its C array. ``advance(n)`` is called after each chunk of images."""
    micro = TFLiteMicroModel(tflite_path)
    outputs, latencies = [], []
    for start in range(0, len(x_test), 50):
        out, latency = micro.predict(x_test[start:start + 50], return_latency=True)
        outputs.append(out)
        latencies.append(latency)
        advance(len(out))
    predictions = np.concatenate(outputs).argmax(-1)
    c_array = to_c_array(tflite_path, header_path)
    return {
        "samples": len(x_test),
        "test_accuracy": float(np.mean(predictions == y_test)),
        "agreement": float(np.mean(predictions == float_logits.argmax(-1))),
        "arena_bytes": micro.arena_bytes,
        "latency_ms_host": float(np.median(latencies)) * 1e3,
    }, {
        "header": os.path.basename(c_array["header"]),
        "source": os.path.basename(c_array["source"]),
        "model_bytes": c_array["model_bytes"],
        "arena_bytes": c_array["arena_bytes"],
    }


def compile_for_npu(tflite_path):
    """Vela's report for an Ethos-U55-128 NPU."""
    vela = vela_report(tflite_path)
    return {k: vela[k] for k in ("accelerator", "npu_ops", "cpu_ops", "npu_op_share", "cycles",
                                 "latency_s", "sram_bytes", "flash_bytes")}
