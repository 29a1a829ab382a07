"""Hybrid: a converted SNN as the starting student of knowledge distillation.

Trains the convnet of ``convert_mnist.py`` with ReLU and with StepReLU(L),
converts each to an SNN at T = 2 and T = 4, then fine-tunes that SNN (all of
its weights, surrogate gradients through the IF neurons) for a few epochs:

- ``converted``: the SNN straight out of `ann_to_snn`, no training;
- ``fine_tuned_ce``: fine-tuned on the labels only (cross-entropy), a control;
- ``fine_tuned_kd``: fine-tuned with `keras_snnkd.distill.Distiller`, the ANN
  as teacher: ``0.5 * CE + ResponseKD(temperature 4)``.

Both fine-tunings start from the same converted weights and use the same
optimizer, epochs and batches.

    python examples/convert_distill.py           # full run, ~15 min on 2 CPU cores
    python examples/convert_distill.py --fast    # smoke run (used by the tests)

Writes ``convert_distill.json`` and ``convert_distill.png`` to ``--out``.
"""

import argparse
import json
import os
import time

import keras
import matplotlib
import numpy as np

from convert_mnist import HERE, accuracy, load_data, train
from keras_snnkd.convert import ann_to_snn
from keras_snnkd.distill import Distiller, ResponseKD
from keras_snnkd.layers import StepReLU

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after selecting the Agg backend)

METHODS = ("converted", "fine_tuned_ce", "fine_tuned_kd")


def fine_tune(ann, timesteps, data, args, distill):
    """Converts ``ann`` at ``timesteps`` and fine-tunes the SNN; returns it."""
    (x_train, y_train), _ = data
    snn = ann_to_snn(ann, timesteps, calibration_data=x_train[:500])
    cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model = (Distiller(ann, snn, [ResponseKD(temperature=4.0)], student_loss_weight=0.5)
             if distill else snn)
    keras.utils.set_random_seed(args.seed)
    model.compile(keras.optimizers.Adam(args.learning_rate), cross_entropy)
    model.fit(x_train, y_train, batch_size=64, epochs=args.epochs, verbose=2)
    return snn


def run(args):
    data = load_data(args.fast)
    (x_train, y_train), (x_test, y_test) = data
    variants = {
        "relu": lambda: keras.layers.ReLU(),
        "step_relu": lambda: StepReLU(levels=args.levels, threshold=2.0),
    }
    variants = {key: variants[key] for key in args.activations}
    results = {
        "dataset": f"MNIST subset ({len(x_train)} train / {len(x_test)} test)",
        "levels": args.levels, "ann_epochs": args.ann_epochs, "epochs": args.epochs,
        "learning_rate": args.learning_rate, "seed": args.seed,
        "backend": keras.backend.backend(), "models": {},
    }
    for key, activation in variants.items():
        ann = train(activation, f"{key}_ann", data, args.ann_epochs, args.seed)
        entry = {"ann_accuracy": accuracy(ann, x_test, y_test)}
        for timesteps in args.timesteps:
            scores = {"converted": accuracy(
                ann_to_snn(ann, timesteps, calibration_data=x_train[:500]), x_test, y_test)}
            for method, distill in (("fine_tuned_ce", False), ("fine_tuned_kd", True)):
                start = time.time()
                snn = fine_tune(ann, timesteps, data, args, distill)
                scores[method] = accuracy(snn, x_test, y_test)
                scores[f"{method}_seconds"] = round(time.time() - start, 1)
            print(key, timesteps, scores, flush=True)
            entry[str(timesteps)] = scores
        results["models"][key] = entry
    return results


def plot(results, path):
    figure, axis = plt.subplots(figsize=(7.0, 4.4))
    groups = [(key, t) for key, entry in results["models"].items()
              for t in entry if t != "ann_accuracy"]
    width = 0.26
    for i, method in enumerate(METHODS):
        values = [100 * results["models"][key][t][method] for key, t in groups]
        axis.bar(np.arange(len(groups)) + (i - 1) * width, values, width,
                 label=method.replace("_", " "))
    for j, (key, _) in enumerate(groups):
        ann = 100 * results["models"][key]["ann_accuracy"]
        axis.hlines(ann, j - 1.5 * width, j + 1.5 * width, colors="black", linestyles=":")
    axis.set_xticks(np.arange(len(groups)),
                    [f"{key}\nT={t}" for key, t in groups])
    low = min(100 * results["models"][key][t]["converted"] for key, t in groups)
    axis.set_ylim(max(0.0, min(low, 90.0) - 2.0), 100.0)
    axis.set_ylabel("test accuracy (%)")
    axis.set_title("Converted SNN as KD starting point (dotted: ANN teacher)", fontsize=10)
    axis.legend(fontsize=8, loc="upper center", ncol=3, bbox_to_anchor=(0.5, -0.14))
    axis.grid(alpha=0.3, axis="y")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, default=16, help="StepReLU levels L")
    parser.add_argument("--timesteps", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--ann-epochs", type=int, default=15)
    parser.add_argument("--epochs", type=int, default=3, help="fine-tuning epochs")
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--activations", nargs="+", choices=("relu", "step_relu"),
                        default=["relu", "step_relu"], help="which ANNs to convert")
    parser.add_argument("--fast", action="store_true",
                        help="256 images, 1 epoch each, the StepReLU ANN at T=2 only")
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    args = parser.parse_args(argv)
    if args.fast:
        args.levels, args.timesteps, args.ann_epochs, args.epochs = 2, [2], 1, 1
        args.activations = ["step_relu"]
    os.makedirs(args.out, exist_ok=True)
    results = run(args)
    stem = os.path.join(args.out, "convert_distill" + ("_fast" if args.fast else ""))
    with open(stem + ".json", "w") as file:
        json.dump(results, file, indent=2)
    plot(results, stem + ".png")
    print(f"wrote {stem}.json and {stem}.png")
    return results


if __name__ == "__main__":
    main()
