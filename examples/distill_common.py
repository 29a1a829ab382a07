"""Shared pieces of the distillation experiments (``examples/distill_*.py``).

Data (the bundled 4,000 / 1,000 MNIST subset), the small spiking students, the
training recipes (Adam with cosine decay, batch 64), seeds, and the JSON tables:
every experiment reports each model as ``{"mean", "std", "runs"}`` of its test
accuracy over seeds.
"""

import argparse
import json
import os
import time

import keras
import numpy as np

from keras_snnkd import datasets, layers, models, neurons
from keras_snnkd.distill import Distiller, cache_teacher

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
CE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
L = keras.layers
F = layers.TimeFolded
BATCH = 64


def parse_args(description, epochs, teacher_epochs, argv=None):
    """Command line shared by the experiments: ``--fast``, ``--seeds``, ``--epochs``..."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds (default 3)")
    parser.add_argument("--epochs", type=int, default=epochs,
                        help=f"student epochs (default {epochs})")
    parser.add_argument("--teacher-epochs", type=int, default=teacher_epochs,
                        help=f"teacher epochs (default {teacher_epochs})")
    parser.add_argument("--fast", action="store_true",
                        help="smoke run: 130 training / 125 test images, 1 epoch, 1 seed")
    parser.add_argument("--out", default=RESULTS, help="folder for the JSON (and plots)")
    args = parser.parse_args(argv)
    if args.fast:
        args.seeds, args.epochs, args.teacher_epochs = 1, 1, 1
    return args


def load_data(fast):
    """The MNIST subset: 4,000 training and 1,000 test images (130 / 125 when ``fast``)."""
    (x_train, y_train), (x_test, y_test) = datasets.load_mnist_subset()
    if fast:  # the subset is ordered by class: take a spread of it
        return (x_train[::31], y_train[::31]), (x_test[::8], y_test[::8])
    return (x_train, y_train), (x_test, y_test)


def optimizer(epochs, samples, lr=2e-3):
    """Adam whose learning rate decays to 0 over the run (cosine)."""
    steps = max(1, epochs * -(-samples // BATCH))
    return keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(lr, steps))


def accuracy(model, x, y):
    """Top-1 test accuracy."""
    return float(np.mean(np.argmax(model.predict(x, batch_size=500, verbose=0), -1) == y))


def train(model, x, y, epochs, augment=None):
    """Plain supervised training (cross-entropy on labels); ``augment(x)``, if given,
    makes each epoch's copy of the images."""
    model.compile(optimizer(epochs, len(x)), CE)
    if augment is None:
        model.fit(x, y, batch_size=BATCH, epochs=epochs, verbose=0)
        return model
    for _ in range(epochs):
        model.fit(augment(x), y, batch_size=BATCH, epochs=1, verbose=0)
    return model


def ann_teacher(x, y, epochs, augment=False):
    """The reference ANN (DESIGN.md), trained on labels.

    With ``augment`` every epoch sees a fresh randomly shifted (up to 10 %),
    rotated (up to 14 degrees) and zoomed (up to 10 %) copy of the images: a
    stronger teacher, as teachers usually are. Its students still train on the
    plain images.
    """
    teacher = models.reference_ann()
    if not augment:
        return train(teacher, x, y, epochs)
    jitter = keras.Sequential([L.RandomTranslation(0.1, 0.1), L.RandomRotation(0.04),
                               L.RandomZoom(0.1)], name="augment")
    return train(teacher, x, y, epochs,
                 augment=lambda images: keras.ops.convert_to_numpy(jitter(images, training=True)))


def dense_student(timesteps=4, hidden=128, name="dense_student"):
    """``models.dense_snn``: Flatten -> Dense(hidden) -> LIF -> Dense(10), mean logits."""
    return models.dense_snn(timesteps=timesteps, hidden=(hidden,), name=name)


def conv_snn(timesteps, channels=(4, 8), hidden=32, spiking_output=False, name="student"):
    """A small spiking CNN on 28x28 images, direct encoding.

    ``Conv(c1) -> LIF 'lif1' -> AvgPool -> Conv(c2) -> LIF 'lif2' -> AvgPool 'pool2' ->
    Dense(hidden) -> LIF 'lif3' -> Dense(10)``; logits are the mean over time, or, with
    ``spiking_output``, the output layer spikes too (LIF 'out') and the logits are its
    spike counts.
    """
    stack = [keras.Input((28, 28, 1)), L.Conv2D(channels[0], 3, padding="same"),
             layers.RepeatEncoder(timesteps), neurons.LIF(name="lif1"),
             F(L.AveragePooling2D(2)), F(L.Conv2D(channels[1], 3, padding="same")),
             neurons.LIF(name="lif2"), F(L.AveragePooling2D(2), name="pool2"),
             F(L.Flatten()), F(L.Dense(hidden)), neurons.LIF(name="lif3"), F(L.Dense(10))]
    if spiking_output:
        stack += [neurons.LIF(name="out"), layers.SpikeCount()]
    else:
        stack += [layers.MeanOverTime()]
    return keras.Sequential(stack, name=name)


def distill(teacher, student, losses, x, y, epochs, loss_weights=None, student_loss_weight=1.0):
    """Trains ``student`` from ``teacher`` (cross-entropy + ``losses``), teacher cached."""
    distiller = Distiller(teacher, student, losses, loss_weights=loss_weights,
                          student_loss_weight=student_loss_weight)
    distiller.compile(optimizer(epochs, len(x)), CE)
    distiller.fit(cache_teacher(distiller, x), y, batch_size=BATCH, epochs=epochs, verbose=0)
    return student


def summarize(runs):
    """``{"mean", "std", "runs"}`` of a list of accuracies (population std)."""
    return {"mean": float(np.mean(runs)), "std": float(np.std(runs)),
            "runs": [float(r) for r in runs]}


def markdown_table(rows, header=("model", "test accuracy (mean ± std)")):
    """A markdown table from ``[(name, summary), ...]``."""
    lines = [f"| {header[0]} | {header[1]} |", "|---|---|"]
    for name, s in rows:
        lines.append(f"| {name} | {100 * s['mean']:.2f} ± {100 * s['std']:.2f} % |")
    return "\n".join(lines)


def settings(args):
    """The command-line settings of a run, as every JSON table records them."""
    return {"seeds": args.seeds, "epochs": args.epochs, "teacher_epochs": args.teacher_epochs,
            "fast": args.fast}


def report(args, name, payload, runs, started):
    """Summarizes ``runs`` (``{model: [accuracy per seed]}``) into a table, writes it
    with ``payload`` and the settings to ``<out>/<name>.json``, prints it; returns it."""
    table = {model: summarize(values) for model, values in runs.items()}
    path = write_json(args.out, name, {**payload, **settings(args), "table": table}, started)
    print(markdown_table(table.items()))
    print(f"wrote {path}")
    return table


def write_json(out, name, payload, started):
    """Writes ``<out>/<name>.json`` with the run's settings and wall time; returns the path."""
    payload = {**payload, "recipe": "Adam 2e-3 with cosine decay to 0, batch 64, "
               "cross-entropy from logits; test accuracy on the held-out images",
               "backend": keras.backend.backend(),
               "wall_seconds": round(time.time() - started, 1),
               "date": time.strftime("%Y-%m-%d")}
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, f"{name}.json")
    with open(path, "w") as f:
        json.dump(payload, f, indent=2)
    return path
