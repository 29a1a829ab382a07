"""Noise immunity: ANN teacher vs scratch SNN vs distilled SNN on noisy test images.

Per seed, on the bundled MNIST subset: the reference ANN teacher is trained, and each of the
two spiking students of ``distill_ann_to_snn.py`` (dense: ``models.dense_snn``, Dense(128),
T=4, 2 x ``--epochs`` epochs; conv: ``distill_common.conv_snn``, T=2, ``--epochs`` epochs)
is trained twice from the same initial weights, from scratch and distilled (0.5 x
cross-entropy + 0.5 x `ResponseKD`, temperature 2, standardized logits). All five models
are then evaluated on the 1,000 test images corrupted by

- Gaussian noise: ``x + N(0, sigma^2)``, clipped to [0, 1];
- salt-and-pepper noise: a fraction ``p`` of the pixels set to 0 or 1 (half each);

at several levels. The noisy images are drawn once per level (seed 0), so every model
sees the same ones. Test accuracy, mean ± std over the seeds.

    python examples/distill_noise.py            # full run (3 seeds)
    python examples/distill_noise.py --fast     # smoke run (used by the tests)

Writes ``distill_noise.json`` and ``distill_noise.png`` to ``--out`` (default
``examples/results``).
"""

import os
import time

import keras
import matplotlib
import numpy as np
from tqdm import tqdm

import distill_common as common
from keras_snnkd.distill import ResponseKD

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after selecting the Agg backend)

GAUSSIAN = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
SALT_AND_PEPPER = (0.0, 0.05, 0.1, 0.2, 0.3)
TEACHER = "teacher (ANN)"
STUDENTS = {"dense SNN (T=4)": (common.dense_student, 2),  # name: (factory, epochs factor)
            "conv SNN (T=2)": (lambda: common.conv_snn(2), 1)}
MODELS = (TEACHER, *(f"{s}: {kind}" for s in STUDENTS for kind in ("scratch", "distilled")))


def gaussian(x, sigma, rng):
    return np.clip(x + rng.normal(0.0, sigma, x.shape), 0.0, 1.0).astype("float32")


def salt_and_pepper(x, p, rng):
    u = rng.random(x.shape)
    noisy = np.where(u < p / 2, 0.0, x)
    return np.where(u > 1 - p / 2, 1.0, noisy).astype("float32")


def noisy_sets(x):
    """``{kind: [(level, images), ...]}``, drawn once."""
    rng = np.random.default_rng(0)
    return {"gaussian": [(s, gaussian(x, s, rng)) for s in GAUSSIAN],
            "salt_and_pepper": [(p, salt_and_pepper(x, p, rng)) for p in SALT_AND_PEPPER]}


def plot(table, path):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, (kind, label) in zip(axes, (("gaussian", "Gaussian noise sigma"),
                                         ("salt_and_pepper", "salt-and-pepper fraction p"))):
        colors = {TEACHER: "black", **{s: f"C{i}" for i, s in enumerate(STUDENTS)}}
        for model in MODELS:
            rows = table[kind][model]
            levels = [r["level"] for r in rows]
            style = "--" if model.endswith("scratch") else "-"  # same color per student
            ax.errorbar(levels, [100 * r["mean"] for r in rows], linestyle=style,
                        color=colors[model.split(":")[0]], yerr=[100 * r["std"] for r in rows],
                        marker="o", capsize=3, label=model)
        ax.set_xlabel(label)
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("Noise immunity on the MNIST subset (mean ± std over seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    args = common.parse_args(__doc__.splitlines()[0], epochs=15, teacher_epochs=8, argv=argv)
    started = time.time()
    (x, y), (x_test, y_test) = common.load_data(args.fast)
    sets = noisy_sets(x_test)
    runs = {kind: {m: [[] for _ in levels] for m in MODELS} for kind, levels in sets.items()}
    progress = tqdm(total=args.seeds * len(MODELS), desc="noise", unit="model")
    for seed in range(args.seeds):
        keras.utils.set_random_seed(seed)
        trained = {TEACHER: common.ann_teacher(x, y, args.teacher_epochs)}
        progress.update()
        for student, (factory, factor) in STUDENTS.items():
            keras.utils.set_random_seed(1000 + seed)
            initial = factory().get_weights()
            scratch, distilled = factory(), factory()
            scratch.set_weights(initial)
            distilled.set_weights(initial)
            trained[f"{student}: scratch"] = common.train(scratch, x, y, factor * args.epochs)
            progress.update()
            trained[f"{student}: distilled"] = common.distill(
                trained[TEACHER], distilled, [ResponseKD(temperature=2.0, standardize=True)],
                x, y, factor * args.epochs, [0.5], 0.5)
            progress.update()
        for kind, levels in sets.items():
            for i, (_, images) in enumerate(levels):
                for name, model in trained.items():
                    runs[kind][name][i].append(common.accuracy(model, images, y_test))
    progress.close()
    table = {kind: {name: [{"level": level, **common.summarize(runs[kind][name][i])}
                           for i, (level, _) in enumerate(levels)]
                    for name in MODELS}
             for kind, levels in sets.items()}
    os.makedirs(args.out, exist_ok=True)
    plot(table, os.path.join(args.out, "distill_noise.png"))
    path = common.write_json(args.out, "distill_noise", {
        "experiment": "accuracy under Gaussian and salt-and-pepper noise, MNIST subset test set",
        "teacher": "models.reference_ann()",
        "students": {"dense SNN (T=4)": "models.dense_snn(timesteps=4, hidden=(128,)), "
                                        f"{2 * args.epochs} epochs",
                     "conv SNN (T=2)": "conv_snn(timesteps=2, channels=(4, 8), hidden=32), "
                                       f"{args.epochs} epochs"},
        "distillation": "0.5 CE + 0.5 ResponseKD(temperature=2, standardize=True), teacher cached",
        **common.settings(args), "table": table,
    }, started)
    for kind, levels in sets.items():
        print(kind)
        for name in MODELS:
            cells = ", ".join(f"{r['level']}: {100 * r['mean']:.1f}" for r in table[kind][name])
            print(f"  {name}: {cells}")
    print(f"wrote {path}")
    return table


if __name__ == "__main__":
    main()
