"""``snnkd distill``: trains a student ``.keras`` from a teacher ``.keras``."""

import os
import shutil
import time

import click
import keras

from keras_snnkd.cli.config import config_option
from keras_snnkd.cli.files import (accuracy, check_input, check_output, data_options, load_data,
                                   load_model, save_model)
from keras_snnkd.cli.output import header, print_results, write_json
from keras_snnkd.distill import (AtomicBackupAndRestore, AttentionTransfer, Distiller, FeatureKD,
                                 RateKD, ResponseKD, SpikeCountKD, cache_teacher)

#: ``--kd`` names and the loss each builds.
LOSSES = ("response", "spike_count", "rate", "feature", "attention")
NEEDS_LAYERS = ("feature", "attention")


def make_loss(kind, temperature, teacher_layer, student_layer):
    """The distillation loss a ``--kd`` choice names."""
    if kind in NEEDS_LAYERS and (teacher_layer is None or student_layer is None):
        raise click.UsageError(f"--kd {kind} needs --teacher-layer and --student-layer "
                               "(the feature maps to match).")
    layers = {"teacher_layer_name": teacher_layer, "student_layer_name": student_layer}
    if kind == "response":
        return ResponseKD(temperature=temperature, **layers)
    if kind == "spike_count":
        return SpikeCountKD(temperature=temperature, **layers)
    if kind == "rate":
        return RateKD(**layers)
    if kind == "feature":
        return FeatureKD(teacher_layer, student_layer)
    return AttentionTransfer(teacher_layer, student_layer)


def backup_callback(out, resume, arguments):
    """The `AtomicBackupAndRestore` of a run saving to ``out``: its folder is ``out``
    with ``.backup``; ``resume=False`` deletes what a previous run left there."""
    folder = os.path.splitext(out)[0] + ".backup"
    if not resume and os.path.isdir(folder):
        shutil.rmtree(folder)
    return AtomicBackupAndRestore(folder, fingerprint=arguments)


@click.command(short_help="Distill a teacher .keras into a student .keras.")
@config_option
@click.argument("teacher", type=click.Path(exists=True, dir_okay=False))
@click.argument("student", type=click.Path(exists=True, dir_okay=False))
@data_options
@click.option("--kd", type=click.Choice(LOSSES), default="response", show_default=True,
              help="Distillation loss: response (Hinton, logits), spike_count / rate (output "
                   "spikes of an SNN teacher), feature / attention (a teacher feature map "
                   "against the student's firing rates).")
@click.option("--temperature", type=click.FloatRange(0, min_open=True), default=4.0,
              show_default=True, help="Temperature of response / spike_count.")
@click.option("--teacher-layer", default=None, help="Teacher layer the loss reads.")
@click.option("--student-layer", default=None, help="Student layer the loss reads.")
@click.option("--kd-weight", type=click.FloatRange(0, min_open=True), default=1.0,
              show_default=True, help="Weight of the distillation term.")
@click.option("--label-weight", type=click.FloatRange(0), default=0.5, show_default=True,
              help="Weight of the cross-entropy on the labels (0: label-free).")
@click.option("--epochs", type=click.IntRange(1), default=5, show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True)
@click.option("--learning-rate", type=click.FloatRange(0, min_open=True), default=2e-3,
              show_default=True, help="Adam learning rate (cosine decay to 0).")
@click.option("--cache/--no-cache", default=True, show_default=True,
              help="Compute the teacher's outputs once instead of every epoch.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), default="student_distilled.keras",
              show_default=True, help="Where to save the trained student.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Results file [default: --out with .json].")
@click.option("--resume/--no-resume", default=True, show_default=True,
              help="Back up the training state after every epoch (in the folder --out "
                   "with .backup) and, when a backup of the same command is there (the "
                   "run was killed), resume from it. --no-resume deletes the backup and "
                   "starts afresh.")
def distill(teacher, student, data, data_path, limit, kd, temperature, teacher_layer,
            student_layer, kd_weight, label_weight, epochs, batch_size, learning_rate, cache,
            seed, out, json_path, resume):
    """Distill TEACHER (.keras, ANN or SNN) into STUDENT (.keras) and save the student.

    Trains with `keras_snnkd.distill.Distiller`: label-weight x cross-entropy +
    kd-weight x the --kd loss, Adam with cosine decay. Reports the test accuracy
    of the teacher and of the student before and after. A run that is killed
    resumes from its last completed epoch when started again with the same
    command (see --resume); checkpoints are written atomically.
    """
    json_path = check_output(json_path or os.path.splitext(out)[0] + ".json", "--json")
    check_output(out, "--out")
    loss = make_loss(kd, temperature, teacher_layer, student_layer)
    keras.utils.set_random_seed(seed)
    teacher_model, student_model = load_model(teacher, "teacher"), load_model(student, "student")
    distiller = Distiller(teacher_model, student_model, [loss], loss_weights=[kd_weight],
                          student_loss_weight=label_weight)
    (x_train, y_train), (x_test, y_test) = load_data(data, data_path, limit)
    check_input(teacher_model, x_train, "teacher", data)
    check_input(student_model, x_train, "student", data)
    steps = epochs * -(-len(x_train) // batch_size)
    distiller.compile(
        optimizer=keras.optimizers.Adam(
            keras.optimizers.schedules.CosineDecay(learning_rate, steps)),
        loss=(keras.losses.SparseCategoricalCrossentropy(from_logits=True)
              if label_weight > 0 else None),
        metrics=["accuracy"])
    before = accuracy(student_model, x_test, y_test)
    start = time.perf_counter()
    inputs = cache_teacher(distiller, x_train) if cache else x_train
    backup = backup_callback(out, resume, {
        "teacher": os.path.abspath(teacher), "student": os.path.abspath(student), "data": data,
        "data_path": data_path, "limit": limit, "kd": kd, "config": loss.get_config(),
        "kd_weight": kd_weight, "label_weight": label_weight, "epochs": epochs,
        "batch_size": batch_size, "learning_rate": learning_rate, "cache": cache, "seed": seed})
    history = distiller.fit(inputs, y_train, batch_size=batch_size, epochs=epochs, verbose=2,
                            callbacks=[backup])
    seconds = time.perf_counter() - start
    save_model(student_model, out)
    result = {
        **header("distill"),
        "teacher": teacher, "student": student, "out": out,
        "data": {"name": data, "train": len(x_train), "test": len(x_test)},
        "loss": {"kd": kd, "config": loss.get_config(), "kd_weight": kd_weight,
                 "label_weight": label_weight},
        "epochs": epochs, "resumed_after_epoch": backup.restored_epoch,
        "batch_size": batch_size, "learning_rate": learning_rate,
        "teacher_accuracy": accuracy(teacher_model, x_test, y_test),
        "student_accuracy_before": before,
        "student_accuracy": accuracy(student_model, x_test, y_test),
        "train_seconds": seconds,
        "history": {k: [float(v) for v in values] for k, values in history.history.items()},
    }
    write_json(json_path, result)
    print_results(f"snnkd distill ({result['backend']})", {
        "teacher test accuracy": f"{result['teacher_accuracy']:.2%}",
        "student before": f"{before:.2%}",
        "student after": f"{result['student_accuracy']:.2%}",
        "training": f"{epochs} epochs, {seconds:.0f} s" + (
            f" (resumed after epoch {backup.restored_epoch})" if backup.restored_epoch else ""),
        "student saved to": out}, json_path)
