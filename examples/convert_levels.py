"""Conversion gap of StepReLU networks at T = L, for several L and seeds.

A StepReLU(levels=L) network converts to an SNN whose first spiking layer is
exact at T = L; deeper layers see spike trains that vary over time and pick up
a small conversion error. This script trains the convnet of
``convert_mnist.py`` with L in {4, 8, 16} and several seeds, converts each at
T = L and reports ANN accuracy, SNN accuracy and their gap (points), plus
the fraction of neurons of each spiking layer whose spike count differs from
the StepReLU level on the test set.

    python examples/convert_levels.py              # 3 levels x 3 seeds, ~10 min on 2 CPU cores
    python examples/convert_levels.py --fast       # smoke run (used by the tests)

Writes ``convert_levels.json`` and ``convert_levels.png`` to ``--out``.
"""

import argparse
import json
import os

import keras
import matplotlib
import numpy as np

from convert_mnist import HERE, accuracy, load_data, train
from keras_snnkd.convert import ann_to_snn
from keras_snnkd.layers import StepReLU
from keras_snnkd.neurons import IF

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after selecting the Agg backend)


def level_mismatch(ann, snn, x, timesteps):
    """Per spiking layer: fraction of neurons whose spike count over T differs from
    the level ``round(StepReLU output * T / theta)`` of the ANN on ``x``."""
    steps = [layer for layer in ann.layers if isinstance(layer, StepReLU)]
    neurons = [layer for layer in snn.layers if isinstance(layer, IF)]
    ann_out = keras.Model(ann.inputs[0], [layer.output for layer in steps]).predict(x, verbose=0)
    snn_out = keras.Model(snn.inputs[0], [n.output for n in neurons]).predict(x, verbose=0)
    return [float(np.mean(spikes.sum(axis=1) != np.round(values * timesteps / n.threshold)))
            for values, spikes, n in zip(ann_out, snn_out, neurons)]


def run(args):
    data = load_data(args.fast)
    (_, _), (x_test, y_test) = data
    rows = []
    for levels in args.levels:
        for seed in args.seeds:
            ann = train(lambda: StepReLU(levels, args.threshold), f"step{levels}_ann", data,
                        args.epochs, seed)
            snn = ann_to_snn(ann, levels)
            row = {"levels": levels, "seed": seed, "ann_accuracy": accuracy(ann, x_test, y_test),
                   "snn_accuracy": accuracy(snn, x_test, y_test),
                   "level_mismatch_per_layer": level_mismatch(ann, snn, x_test, levels)}
            row["gap_points"] = round(100 * (row["ann_accuracy"] - row["snn_accuracy"]), 2)
            print(row, flush=True)
            rows.append(row)
    summary = {}
    for levels in args.levels:
        gaps = [row["gap_points"] for row in rows if row["levels"] == levels]
        summary[str(levels)] = {"mean_gap_points": round(float(np.mean(gaps)), 2),
                                "max_gap_points": max(gaps),
                                "all_within_half_point": bool(max(gaps) <= 0.5)}
    return {"dataset": f"MNIST subset ({len(data[0][0])} train / {len(x_test)} test)",
            "epochs": args.epochs, "backend": keras.backend.backend(),
            "runs": rows, "summary": summary}


def plot(results, path):
    figure, axis = plt.subplots(figsize=(5.6, 3.8))
    for row in results["runs"]:
        axis.scatter(row["levels"], row["gap_points"], color="tab:orange", alpha=0.7)
    levels = sorted(int(key) for key in results["summary"])
    axis.plot(levels, [results["summary"][str(lv)]["mean_gap_points"] for lv in levels], "o-",
              color="tab:orange", label="mean over seeds")
    axis.axhline(0.5, color="gray", ls=":", label="0.5 points")
    axis.axhline(0.0, color="black", lw=0.6)
    axis.set_xscale("log", base=2)
    axis.set_xticks(levels, [str(lv) for lv in levels])
    axis.set_xlabel("StepReLU levels L (SNN run at T = L)")
    axis.set_ylabel("ANN - SNN accuracy (points)")
    axis.set_title("Conversion gap at T = L", fontsize=10)
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threshold", type=float, default=2.0,
                        help="initial StepReLU threshold")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--fast", action="store_true", help="256 images, 1 epoch, L=2, 1 seed")
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    args = parser.parse_args(argv)
    if args.fast:
        args.levels, args.seeds, args.epochs = [2], [0], 1
    os.makedirs(args.out, exist_ok=True)
    results = run(args)
    stem = os.path.join(args.out, "convert_levels" + ("_fast" if args.fast else ""))
    with open(stem + ".json", "w") as file:
        json.dump(results, file, indent=2)
    plot(results, stem + ".png")
    print(json.dumps(results["summary"], indent=1))
    print(f"wrote {stem}.json and {stem}.png")
    return results


if __name__ == "__main__":
    main()
