"""ANN to SNN conversion on the bundled MNIST subset: ReLU vs StepReLU training.

Trains one small convnet twice on the 4,000-image MNIST subset, once with ReLU
and once with `StepReLU(levels=L)`, converts both with
`keras_snnkd.convert.ann_to_snn` (IF neurons, and LIF neurons with a leak),
and measures test accuracy (1,000 images) for T in {1, 2, 4, 8, 16, 32}.
The ReLU network gets its thresholds from the 99.9th percentile of its
activations on 500 training images; the StepReLU network brings its own.

    python examples/convert_mnist.py                 # full run, a few minutes on 2 CPU cores
    python examples/convert_mnist.py --levels 8      # another number of StepReLU levels
    python examples/convert_mnist.py --fast          # smoke run (used by the tests)

Writes ``convert_mnist.json`` and ``convert_mnist.png`` to ``--out``
(default ``examples/results``).
"""

import argparse
import json
import os
import time

import keras
import matplotlib
import numpy as np
from tqdm import tqdm

from keras_snnkd.convert import ann_to_snn
from keras_snnkd.datasets import load_mnist_subset
from keras_snnkd.layers import StepReLU

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after selecting the Agg backend)

HERE = os.path.dirname(os.path.abspath(__file__))
L = keras.layers


def convnet(activation, name):
    """Conv(16)-BN-act-AvgPool-Conv(32)-BN-act-AvgPool-Dense(128)-act-Dense(10)."""
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        L.Conv2D(16, 3, padding="same", use_bias=False), L.BatchNormalization(), activation(),
        L.AveragePooling2D(2),
        L.Conv2D(32, 3, padding="same", use_bias=False), L.BatchNormalization(), activation(),
        L.AveragePooling2D(2),
        L.Flatten(), L.Dense(128), activation(),
        L.Dense(10),
    ], name=name)


def train(activation, name, data, epochs, seed):
    """Builds the convnet with ``activation`` from ``seed`` and trains it (Adam, batch 64)."""
    (x_train, y_train), _ = data
    keras.utils.set_random_seed(seed)
    model = convnet(activation, name)
    model.compile(keras.optimizers.Adam(2e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=64, epochs=epochs, verbose=2)
    return model


def accuracy(model, x, y):
    return float(np.mean(model.predict(x, batch_size=250, verbose=0).argmax(-1) == y))


def load_data(fast):
    """The MNIST subset; with ``fast``, 256 training and 100 test images."""
    (x_train, y_train), (x_test, y_test) = load_mnist_subset()
    if fast:
        return (x_train[:256], y_train[:256]), (x_test[:100], y_test[:100])
    return (x_train, y_train), (x_test, y_test)


def run(args):
    data = load_data(args.fast)
    (x_train, y_train), (x_test, y_test) = data
    calibration = x_train[:500]
    variants = {
        "relu": lambda: L.ReLU(),
        "step_relu": lambda: StepReLU(levels=args.levels, threshold=args.threshold),
    }
    results = {
        "dataset": f"MNIST subset ({len(x_train)} train / {len(x_test)} test)",
        "levels": args.levels, "leak": args.leak, "epochs": args.epochs, "seed": args.seed,
        "timesteps": args.timesteps, "percentile": 99.9, "backend": keras.backend.backend(),
        "models": {},
    }
    for key, activation in variants.items():
        start = time.time()
        ann = train(activation, f"{key}_ann", data, args.epochs, args.seed)
        entry = {"ann_accuracy": accuracy(ann, x_test, y_test),
                 "train_seconds": round(time.time() - start, 1), "if": {}, "lif": {}}
        if key == "step_relu":
            entry["thresholds"] = [float(keras.ops.convert_to_numpy(layer.threshold_weight))
                                   for layer in ann.layers if isinstance(layer, StepReLU)]
        runs = [(neuron, t) for neuron in ("if", "lif") for t in args.timesteps]
        for neuron, t in tqdm(runs, desc=f"convert {key}"):
            snn = ann_to_snn(ann, t, leak=args.leak if neuron == "lif" else None,
                             calibration_data=calibration)
            entry[neuron][str(t)] = accuracy(snn, x_test, y_test)
        results["models"][key] = entry
    step = results["models"]["step_relu"]
    if str(args.levels) in step["if"]:
        results["step_relu_gap_at_T_equal_levels"] = round(
            100 * (step["ann_accuracy"] - step["if"][str(args.levels)]), 2)
    return results


def plot(results, path):
    """Accuracy vs T: full range on the left, the top of it on the right."""
    figure, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    colors = {"relu": "tab:blue", "step_relu": "tab:orange"}
    labels = {"relu": "ReLU ANN", "step_relu": f"StepReLU ANN (L={results['levels']})"}
    for axis in axes:
        for key, entry in results["models"].items():
            steps = [int(t) for t in entry["if"]]
            axis.axhline(100 * entry["ann_accuracy"], color=colors[key], lw=0.8, ls=":")
            axis.plot(steps, [100 * a for a in entry["if"].values()], "o-", color=colors[key],
                      label=f"{labels[key]} -> IF")
            axis.plot(steps, [100 * a for a in entry["lif"].values()], "s--", color=colors[key],
                      label=f"{labels[key]} -> LIF (leak {results['leak']})", alpha=0.7)
        axis.set_xscale("log", base=2)
        axis.set_xticks(steps, [str(t) for t in steps])
        axis.set_xlabel("time steps T")
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("test accuracy (%)")
    axes[0].set_title(f"ANN to SNN conversion, {results['dataset']}", fontsize=10)
    axes[0].legend(fontsize=8, loc="lower right")
    top = max(100 * entry["ann_accuracy"] for entry in results["models"].values())
    axes[1].set_ylim(top - 5, min(100, top + 1))
    axes[1].set_title("zoom (dotted: ANN accuracy)", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, default=16, help="StepReLU levels L")
    parser.add_argument("--threshold", type=float, default=2.0,
                        help="initial StepReLU threshold")
    parser.add_argument("--leak", type=float, default=0.05,
                        help="membrane fraction lost per step for the LIF conversion")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timesteps", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32])
    parser.add_argument("--fast", action="store_true",
                        help="256 training images, 1 epoch, L = T = 2")
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    args = parser.parse_args(argv)
    if args.fast:
        args.epochs, args.timesteps, args.levels = 1, [2], 2
    os.makedirs(args.out, exist_ok=True)
    results = run(args)
    stem = os.path.join(args.out, "convert_mnist" + ("_fast" if args.fast else ""))
    with open(stem + ".json", "w") as file:
        json.dump(results, file, indent=2)
    plot(results, stem + ".png")
    print(json.dumps({key: {k: v for k, v in entry.items() if k in ("ann_accuracy", "if", "lif")}
                      for key, entry in results["models"].items()}, indent=1))
    print(f"wrote {stem}.json and {stem}.png")
    return results


if __name__ == "__main__":
    main()
