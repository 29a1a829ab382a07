"""Mixed precision against float32 for the reference SNN: training speed and accuracy.

Part 1, speed: per backend, the reference network's training and inference steps (T = 4,
batch 64, as in throughput.py) in float32 and under Keras's ``mixed_bfloat16`` dtype policy
(weights and optimizer in float32, layers computing in bfloat16), each compiled as the main
benchmark compiles it (``jit_compile=True``); on TensorFlow both precisions also without XLA
(``jit_compile=False``), which runs TensorFlow's own (oneDNN) kernels. The peers run in
float32 and under ``torch.autocast`` to bfloat16, eagerly. Every system is a worker of
throughput.py, and all are asked in turn for bursts of steps (A B C ... A B C ...).

Part 2, accuracy: per keras_snnkd configuration of part 1, one fresh process trains the
reference network on the bundled MNIST subset (4,000 images) for ``--epochs`` epochs from
the same initial weights (``keras.utils.set_random_seed``) and evaluates it on the subset's
1,000 test images.

    python benchmarks/mixed_precision.py          # writes benchmarks/results/mixed_precision.json
    python benchmarks/mixed_precision.py --backends torch --epochs 1 --json /tmp/mp.json
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import throughput  # noqa: E402  (a sibling script: its workers and interleaving)

PRECISIONS = ("float32", "mixed_bfloat16")


def keras_configs(backends):
    """``(backend, precision, jit)`` of every keras_snnkd system measured: both precisions
    compiled (``jit="true"``) on every backend, and on TensorFlow without XLA as well."""
    configs = [(b, p, "true") for b in backends for p in PRECISIONS]
    if "tensorflow" in backends:
        configs += [("tensorflow", p, "false") for p in PRECISIONS]
    return configs


def label(system, precision, jit=None):
    return f"{system}/{precision}" + (f"/jit={jit}" if jit else "")


def speed(args):
    """Rows of training and inference samples/s, one per system and precision."""
    systems = [(f"snn:{b}", p, jit) for b, p, jit in keras_configs(args.backends)]
    systems += [(peer, p, None) for peer in throughput.PEERS for p in PRECISIONS]
    workers = []
    try:
        for system, precision, jit in systems:
            options = argparse.Namespace(T=args.T, batch=args.batch, jit=jit or "true",
                                         precision=precision)
            workers.append(throughput.Worker(system, options, label=label(system, precision, jit)))
            print(f"  started {workers[-1].label} (first step "
                  f"{workers[-1].ready['first_step_s']:.1f} s)", flush=True)
        train, peak = throughput.alternate(workers, "train", args.rounds, args.steps)
        infer, _ = throughput.alternate(workers, "infer", args.rounds, args.steps)
    finally:
        for w in workers:
            w.close()
    rows = []
    for (system, precision, jit), w in zip(systems, workers):
        same_jit_float32 = label(system, "float32", jit)
        rows.append({"system": system, "precision": precision, "jit_compile": jit,
                     "train_samples_per_s": args.batch / train[w.label],
                     "infer_samples_per_s": args.batch / infer[w.label],
                     "train_vs_float32": train[same_jit_float32] / train[w.label],
                     "infer_vs_float32": infer[same_jit_float32] / infer[w.label],
                     "first_step_s": w.ready["first_step_s"], "peak_rss_mb": peak[w.label]})
        print(f"  {w.label}: train {rows[-1]['train_samples_per_s']:.0f}/s "
              f"(x{rows[-1]['train_vs_float32']:.2f} float32), infer "
              f"{rows[-1]['infer_samples_per_s']:.0f}/s", flush=True)
    return rows


def train_and_evaluate(precision, jit, epochs, seed, timesteps, batch):
    """Worker side of part 2, in a process of its own: the test accuracy after training."""
    import keras

    from keras_snnkd import datasets, models

    keras.utils.set_random_seed(seed)
    keras.mixed_precision.set_dtype_policy(precision)
    (x_train, y_train), (x_test, y_test) = datasets.load_mnist_subset()
    model = models.reference_snn(timesteps=timesteps)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], jit_compile={"true": True, "false": False}[jit])
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=batch, epochs=epochs, verbose=0)
    seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(x_test, y_test, batch_size=250, verbose=0)
    return {"test_accuracy": float(accuracy), "train_loss": history.history["loss"],
            "fit_seconds": seconds,
            "variable_dtypes": sorted({v.dtype for v in model.trainable_variables})}


def accuracy(args):
    """Rows of test accuracy, one per keras_snnkd configuration and seed."""
    rows = []
    for backend, precision, jit in keras_configs(args.backends):
        for seed in range(args.seeds):
            command = [sys.executable, os.path.abspath(__file__), "--accuracy-worker",
                       f"{precision},{jit},{seed}", "--epochs", str(args.epochs),
                       "--T", str(args.T), "--batch", str(args.batch)]
            env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=os.pathsep.join(
                filter(None, [throughput.ROOT, os.environ.get("PYTHONPATH")])))
            proc = subprocess.run(command, env=env, capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"training {label(backend, precision, jit)} failed:\n"
                                   f"{proc.stderr[-3000:]}")
            row = {"backend": backend, "precision": precision, "jit_compile": jit, "seed": seed,
                   **json.loads(proc.stdout.strip().splitlines()[-1])}
            rows.append(row)
            print(f"  {label(backend, precision, jit)} seed {seed}: test accuracy "
                  f"{row['test_accuracy']:.3f} after {args.epochs} epochs "
                  f"({row['fit_seconds']:.0f} s)", flush=True)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backends", nargs="+", choices=throughput.BACKENDS,
                   default=list(throughput.BACKENDS))
    p.add_argument("--T", type=int, default=4)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--rounds", type=int, default=6, help="interleaved bursts per system")
    p.add_argument("--steps", type=int, default=5, help="steps per burst")
    p.add_argument("--epochs", type=int, default=5, help="training epochs of part 2")
    p.add_argument("--seeds", type=int, default=2, help="training runs per configuration")
    p.add_argument("--json", default=os.path.join(HERE, "results", "mixed_precision.json"))
    p.add_argument("--accuracy-worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.epochs < 1 or args.seeds < 1:
        p.error("--epochs and --seeds must be at least 1")
    if args.accuracy_worker:
        precision, jit, seed = args.accuracy_worker.split(",")
        result = train_and_evaluate(precision, jit, args.epochs, int(seed), args.T, args.batch)
        print(json.dumps(result))
        return
    print("speed:", flush=True)
    result = {"machine": throughput.machine(), "T": args.T, "batch": args.batch,
              "epochs": args.epochs, "speed": speed(args)}
    print("accuracy:", flush=True)
    result["accuracy"] = accuracy(args)
    throughput.write_json(args.json, result)


if __name__ == "__main__":
    main()
