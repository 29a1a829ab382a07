"""``snnkd demo``: the library's main job, end to end, on the bundled MNIST subset.

Trains an ANN teacher, distills a small spiking student from it, estimates their
energy, exports the student to int8 TFLite, runs that file in TensorFlow Lite
Micro, writes its C array and compiles it for an Ethos-U55 NPU
(`keras_snnkd.cli.demo_steps`), with a heading and timing per step, progress bars
and a final summary table. Everything lands in ``--out``.
"""

import contextlib
import os
import time
import warnings

import click
import keras
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from keras_snnkd.cli import demo_steps
from keras_snnkd.cli.config import config_option
from keras_snnkd.cli.files import load_data
from keras_snnkd.cli.output import console as make_console, header, write_json
from keras_snnkd.cost import profiles
from keras_snnkd.export.tflm import _captured_stderr

STEPS = 7
FAST_IMAGES = (256, 128)  # training, test images of --fast


class _Run:
    """Console output of one demo run: step headings, timings, progress bars."""

    def __init__(self, console):
        self.console = console
        self.step = 0
        self.seconds = {}
        self.verbose = 1 if console.is_terminal else 2  # keras progress bar / one line per epoch

    def start(self, key, title):
        self.step += 1
        self.key, self.began = key, time.perf_counter()
        self.console.rule(f"[bold]{self.step}/{STEPS}[/bold] {title}", align="left")

    def done(self, message):
        self.seconds[self.key] = round(time.perf_counter() - self.began, 1)
        self.console.print(f"[green]✓[/green] {message} [dim]({self.seconds[self.key]} s)[/dim]")

    def progress(self):
        return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=self.console)


@contextlib.contextmanager
def _quiet():
    """Hides TensorFlow's native log lines and Python warnings of a step (errors still raise)."""
    with warnings.catch_warnings(), _captured_stderr([]):
        warnings.simplefilter("ignore")
        yield


def _summary_table(summary):
    teacher, student = summary["teacher"], summary["student"]
    energy, micro = summary["cost"], summary["tflite_micro"]
    table = Table(title="snnkd demo: ANN teacher distilled into a spiking student "
                        f"({summary['backend']} backend)")
    table.add_column("")
    table.add_column("teacher (ANN)", justify="right")
    table.add_column("student (SNN)", justify="right")
    table.add_row("parameters", f"{teacher['params']:,}", f"{student['params']:,}")
    table.add_row("test accuracy, float Keras", f"{teacher['test_accuracy']:.1%}",
                  f"{student['test_accuracy']:.1%}")
    table.add_row(f"energy / inference ({energy['profile']})",
                  f"{energy['teacher_uj']:.3g} µJ", f"{energy['student_uj']:.3g} µJ")
    table.add_row("  student / teacher energy", "",
                  f"{energy['ratio_to_teacher']:.3f}")
    table.add_row("  student / its ANN twin energy", "", f"{energy['ratio_to_ann_twin']:.3f}")
    table.add_row("firing rate (all spiking layers)", "", f"{energy['firing_rate']:.3f}")
    table.add_section()
    table.add_row("int8 TFLite file", "", f"{summary['tflite']['bytes'] / 1024:.1f} KiB")
    table.add_row("test accuracy, int8 in TFLite Micro", "", f"{micro['test_accuracy']:.1%}")
    table.add_row("top-1 agreement int8 vs float", "", f"{micro['agreement']:.1%}")
    table.add_row("TFLite Micro tensor arena", "", f"{micro['arena_bytes'] / 1024:.1f} KiB")
    table.add_row("Ethos-U55 NPU operators", "",
                  f"{summary['ethos_u']['npu_ops']}/"
                  f"{summary['ethos_u']['npu_ops'] + summary['ethos_u']['cpu_ops']}")
    return table


@click.command(short_help="Teacher -> spiking student -> energy -> int8 -> TFLite Micro.")
@config_option
@click.option("--out", type=click.Path(file_okay=False), default="snnkd-demo",
              show_default=True, help="Folder for every file the demo writes.")
@click.option("--timesteps", "-T", type=click.IntRange(1), default=4, show_default=True,
              help="Time steps of the student.")
@click.option("--teacher-epochs", type=click.IntRange(1), default=8, show_default=True)
@click.option("--epochs", type=click.IntRange(1), default=10, show_default=True,
              help="Distillation epochs of the student.")
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True)
@click.option("--temperature", type=click.FloatRange(0, min_open=True), default=4.0,
              show_default=True, help="ResponseKD temperature.")
@click.option("--profile", default="cmos45nm", show_default=True,
              help="Energy profile of the cost estimate (see `snnkd cost --help`).")
@click.option("--limit", type=click.IntRange(1), default=None,
              help="Use at most this many training and this many test images.")
@click.option("--fast", is_flag=True,
              help=f"Smoke run: {FAST_IMAGES[0]} training / {FAST_IMAGES[1]} test images, "
                   "one epoch each.")
@click.option("--seed", type=int, default=0, show_default=True)
def demo(out, timesteps, teacher_epochs, epochs, batch_size, temperature, profile, limit,
         fast, seed):
    """Teacher -> spiking student -> energy -> int8 -> TFLite Micro, on bundled MNIST.

    Trains an ANN teacher on the 4,000 training images of the MNIST subset that
    ships with the install, distills a small spiking CNN from it, estimates both
    models' energy per inference, exports the student to a fully int8 TFLite
    file, runs it in the TensorFlow Lite Micro interpreter on the 1,000 test
    images, writes the C array for firmware and compiles it for an Ethos-U55
    NPU. Files go to --out; summary.json holds every figure.
    """
    profiles.get(profile)  # an unknown profile fails before any training
    console = make_console()
    run = _Run(console)
    began = time.perf_counter()
    os.makedirs(out, exist_ok=True)

    def path(name):
        return os.path.join(out, name)

    keras.utils.set_random_seed(seed)
    if fast:
        teacher_epochs = epochs = 1
        limit = min(limit or FAST_IMAGES[0], FAST_IMAGES[0])
    test_limit = min(limit, FAST_IMAGES[1]) if fast else limit

    run.start("data", "Data: the MNIST subset bundled with the install")
    data = load_data("mnist_subset", limit=limit, test_limit=test_limit)
    (x_train, y_train), (x_test, y_test) = data
    run.done(f"{len(x_train):,} training and {len(x_test):,} test images, "
             f"{keras.backend.backend()} backend")

    run.start("teacher", "Teacher: the reference ANN, trained on labels")
    teacher, teacher_summary = demo_steps.train_teacher(data, teacher_epochs, batch_size,
                                                        run.verbose, path("teacher.keras"))
    run.done(f"teacher: {teacher_summary['test_accuracy']:.1%} test accuracy, "
             f"{teacher_summary['params']:,} parameters")

    run.start("student", f"Student: a spiking CNN (T={timesteps}) distilled from the teacher "
                         "(its outputs computed once)")
    student, float_logits, student_summary = demo_steps.distill_student(
        teacher, data, timesteps, epochs, batch_size, temperature, run.verbose,
        path("student.keras"))
    run.done(f"student: {student_summary['test_accuracy']:.1%} test accuracy, "
             f"{student_summary['params']:,} parameters")

    run.start("cost", "Cost: spike-aware energy per inference, student vs teacher")
    with console.status("running both models on the test images and counting operations"), \
            _quiet():
        energy = demo_steps.estimate_energy(student, teacher, x_test, profile, out)
    run.done(f"student {energy['student_uj']:.3g} µJ vs teacher {energy['teacher_uj']:.3g} µJ "
             f"per inference (ratio {energy['ratio_to_teacher']:.3f}); vs its own ANN twin "
             f"{energy['ratio_to_ann_twin']:.3f}")

    run.start("export", "Export: fully int8 TFLite with exact 0/1 spikes")
    tflite_path = path("student_int8.tflite")
    with console.status("tracing the static graph, calibrating and converting"), _quiet():
        tflite = demo_steps.export_int8(student, (x_train, y_train), tflite_path)
    run.done(f"{tflite_path}: {tflite['bytes'] / 1024:.1f} KiB")

    run.start("micro", "TensorFlow Lite Micro: the int8 file on the microcontroller runtime")
    with run.progress() as progress, _quiet():
        task = progress.add_task("TFLite Micro inference", total=len(x_test))
        micro, c_array = demo_steps.run_on_micro(
            tflite_path, x_test, y_test, float_logits, path("student_model.h"),
            lambda count: progress.advance(task, count))
    run.done(f"int8 accuracy {micro['test_accuracy']:.1%}, top-1 agreement with the float "
             f"student {micro['agreement']:.1%}, arena {micro['arena_bytes'] / 1024:.1f} KiB; "
             f"C array in {path(c_array['header'])}")

    run.start("ethos_u", "Arm Ethos-U55 NPU: Vela compilation")
    with console.status("compiling with Vela"), _quiet():
        ethos_u = demo_steps.compile_for_npu(tflite_path)
    run.done(f"{ethos_u['npu_ops']} operators on the NPU, {ethos_u['cpu_ops']} on the CPU; "
             f"{ethos_u['latency_s'] * 1e3:.2f} ms estimated per inference")

    files = {name for name in os.listdir(out) if not name.startswith(".")}
    summary = {
        **header("demo"), "fast": fast, "seed": seed,
        "data": {"name": "mnist_subset", "train": len(x_train), "test": len(x_test)},
        "teacher": teacher_summary, "student": student_summary, "cost": energy,
        "tflite": tflite, "tflite_micro": micro, "c_array": c_array, "ethos_u": ethos_u,
        "seconds": {**run.seconds, "total": round(time.perf_counter() - began, 1)},
        "files": sorted(files | {"summary.json"}),
    }
    write_json(path("summary.json"), summary)
    console.print()
    console.print(_summary_table(summary))
    console.print(f"Done in {summary['seconds']['total']:.0f} s. Files in {out}/: "
                  f"{', '.join(summary['files'])}")
