"""One spiking model, three Keras backends: accuracy, speed, and one .keras file for all.

For each backend in turn (``--backends``, default tensorflow jax torch) a worker
process with ``KERAS_BACKEND`` set (or the calling process, when Keras already runs
there on that backend: the tests call `main`) trains the same spiking CNN with seed 0
(``models.reference_snn`` at T = 4 on the bundled MNIST subset, Adam 2e-3 with cosine
decay, batch 64), times its first epoch (tracing / compilation included) and the
following ones, measures test accuracy and inference speed, and saves it as ``.keras``.
It then loads every ``.keras`` saved by the backends before it and checks that its own
backend reproduces their predictions on the test images (top-1 agreement and largest
logit difference): a file trained anywhere runs everywhere.

Each backend draws its own random numbers from the seed (the streams differ between
backends: initial weights, shuffling) and sums floats in its own order, so the trained
models, and their accuracies, differ slightly between backends.

    python examples/compare_backends.py                      # full run, a few minutes
    python examples/compare_backends.py --fast --backends jax torch   # smoke run (tests):
        # a dense SNN on the 8x8 digits instead, one epoch

Writes ``compare_backends.json`` and ``compare_backends.png`` (``_fast`` in fast mode)
to ``--out`` (default ``examples/results``).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BACKENDS = ("tensorflow", "jax", "torch")
NAME = "compare_backends"


# -- worker side (runs under one backend) ------------------------------------------
def worker(job):
    """Trains, times, saves; then loads the earlier backends' files. Returns a dict."""
    import time

    import keras
    import numpy as np

    from keras_snnkd import datasets, models

    keras.utils.set_random_seed(0)
    if job["fast"]:
        (x_train, y_train), (x_test, y_test) = datasets.load_digits()
        model = models.dense_snn(timesteps=4, input_shape=(8, 8, 1), hidden=(32,))
    else:
        (x_train, y_train), (x_test, y_test) = datasets.load_mnist_subset()
        model = models.reference_snn(timesteps=4)
    steps = job["epochs"] * -(-len(x_train) // 64)
    model.compile(keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(2e-3, steps)),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    epoch_seconds = []
    for epoch in range(job["epochs"]):
        start = time.perf_counter()
        model.fit(x_train, y_train, batch_size=64, epochs=epoch + 1, initial_epoch=epoch,
                  verbose=2)
        epoch_seconds.append(time.perf_counter() - start)
    start = time.perf_counter()
    logits = model.predict(x_test, batch_size=256, verbose=0)
    predict_seconds = time.perf_counter() - start
    path = os.path.join(job["folder"], f"{keras.backend.backend()}.keras")
    model.save(path)
    np.save(path[:-6] + "_logits.npy", logits)
    loads = {}
    for earlier in job["earlier"]:
        other = os.path.join(job["folder"], f"{earlier}.keras")
        reference = np.load(other[:-6] + "_logits.npy")
        reloaded = keras.saving.load_model(other).predict(x_test, batch_size=256, verbose=0)
        loads[earlier] = {
            "top1_agreement": float(np.mean(reloaded.argmax(-1) == reference.argmax(-1))),
            "max_abs_logit_difference": float(np.max(np.abs(reloaded - reference))),
        }
    return {
        "test_accuracy": float(np.mean(logits.argmax(-1) == y_test)),
        "first_epoch_seconds": epoch_seconds[0],
        "later_epoch_seconds": (float(np.median(epoch_seconds[1:])) if len(epoch_seconds) > 1
                                else None),
        "predict_images_per_second": len(x_test) / predict_seconds,
        "loads_files_saved_under": loads,
    }


# -- parent side -------------------------------------------------------------------
def run_worker(backend, job):
    """The worker for ``backend``: in this process if Keras already runs on it here
    (the tests), else in a fresh process with ``KERAS_BACKEND`` set."""
    keras = sys.modules.get("keras")
    if keras is not None and keras.backend.backend() == backend:
        return worker(job)
    env = {**os.environ, "KERAS_BACKEND": backend,
           "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker",
                           json.dumps(job)], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"the {backend} worker failed:\n{proc.stderr[-4000:]}")
    print(proc.stdout.rsplit("RESULT ", 1)[0].strip())
    return json.loads(proc.stdout.rsplit("RESULT ", 1)[1])


def plot(results, model, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
    panels = [("test accuracy", [results[b]["test_accuracy"] for b in names]),
              ("first epoch (s, incl. compile)", [results[b]["first_epoch_seconds"]
                                                   for b in names]),
              ("inference (images/s)", [results[b]["predict_images_per_second"]
                                        for b in names])]
    for ax, (title, values) in zip(axes, panels):
        ax.bar(names, values, color=["#d9822b", "#2b8cd9", "#7a5cb8"][:len(names)])
        ax.set_title(title, fontsize=10)
        for i, value in enumerate(values):
            ax.text(i, value, f"{value:.3g}", ha="center", va="bottom", fontsize=9)
    fig.suptitle(f"{model}: one process per backend", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--fast", action="store_true",
                        help="dense SNN on the 8x8 digits, 1 epoch")
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        result = worker(json.loads(args.worker))
        print("RESULT " + json.dumps(result))
        return result
    if args.fast:
        args.epochs = 1
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for backend in args.backends:
            job = {"fast": args.fast, "epochs": args.epochs, "folder": folder,
                   "earlier": list(results)}
            results[backend] = run_worker(backend, job)
    stem = os.path.join(args.out, NAME + ("_fast" if args.fast else ""))
    os.makedirs(args.out, exist_ok=True)
    model = ("dense_snn(T=4, hidden=(32,)), 8x8 digits" if args.fast
             else "reference_snn(T=4), MNIST subset")
    report = {"example": NAME, "fast": args.fast, "epochs": args.epochs, "model": model,
              "results": results}
    with open(stem + ".json", "w") as handle:
        json.dump(report, handle, indent=2)
    plot(results, model, stem + ".png")
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
