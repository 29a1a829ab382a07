"""What distillation costs: samples/s of plain student training vs distillation.

Three ways to train the same student (the reference SNN, ``models.reference_snn``, T=4)
on the bundled MNIST subset, per backend:

- ``plain``: ``student.fit`` on labels (cross-entropy);
- ``live``: `Distiller` (cross-entropy + `ResponseKD`) with the teacher
  (``models.reference_ann``) running forward at every step;
- ``cached``: the same `Distiller` fed by `cache_teacher`: the teacher's logits were
  computed once, so a step costs no teacher forward pass.

Each backend runs in its own process. All three models are built and warmed up
(compiled) first; then each round times one ``fit`` epoch over the same ``--samples``
images for A, B, C in turn (A B C A B C ...), so machine noise hits all three alike.
Reported per backend: median seconds per epoch, samples/s, the time ratios live/plain and
cached/plain (the median over rounds of the ratio within a round, which cancels load that
drifts between rounds; target: cached within 1.15x of plain), the ratios of the medians,
and the one-off cost of building the cache.

Usage:
    python benchmarks/distill_overhead.py              # all backends, JSON in benchmarks/results
    python benchmarks/distill_overhead.py --backend jax --rounds 7
    python benchmarks/distill_overhead.py --fast           # smoke run (used by the tests)
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BACKENDS = ("tensorflow", "jax", "torch")
MODES = ("plain", "live", "cached")
TARGET = 1.15


def measure(samples, rounds, timesteps, batch_size):
    """Worker: the A B C rounds on the current backend; returns a result dict."""
    import keras

    from keras_snnkd import datasets, models
    from keras_snnkd.distill import Distiller, ResponseKD, cache_teacher

    (x, y), _ = datasets.load_mnist_subset()
    x, y = x[:samples], y[:samples]
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    keras.utils.set_random_seed(0)
    teacher = models.reference_ann()
    fits = {}
    plain = models.reference_snn(timesteps=timesteps)
    plain.compile(keras.optimizers.Adam(1e-3), ce)
    fits["plain"] = lambda: plain.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
    live = Distiller(teacher, models.reference_snn(timesteps=timesteps), [ResponseKD(4.0)],
                     loss_weights=[0.5], student_loss_weight=0.5)
    live.compile(keras.optimizers.Adam(1e-3), ce)
    fits["live"] = lambda: live.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
    cached = Distiller(teacher, models.reference_snn(timesteps=timesteps), [ResponseKD(4.0)],
                       loss_weights=[0.5], student_loss_weight=0.5)
    cached.compile(keras.optimizers.Adam(1e-3), ce)
    start = time.perf_counter()
    cache = cache_teacher(cached, x, batch_size=256)
    cache_seconds = time.perf_counter() - start
    fits["cached"] = lambda: cached.fit(cache, y, batch_size=batch_size, epochs=1, verbose=0)
    warmup = {}
    for mode in MODES:  # trace/compile every train function before timing
        start = time.perf_counter()
        fits[mode]()
        warmup[mode] = time.perf_counter() - start
    times = {mode: [] for mode in MODES}
    for _ in range(rounds):
        for mode in MODES:
            start = time.perf_counter()
            fits[mode]()
            times[mode].append(time.perf_counter() - start)
    median = {mode: statistics.median(times[mode]) for mode in MODES}
    # Ratios within a round (seconds apart) are robust to load that drifts between rounds.
    paired = {mode: statistics.median(t / p for t, p in zip(times[mode], times["plain"]))
              for mode in ("live", "cached")}
    return {
        "backend": keras.backend.backend(),
        "samples_per_epoch": len(x),
        "seconds_per_epoch": times,
        "median_seconds": median,
        "samples_per_second": {mode: len(x) / median[mode] for mode in MODES},
        "ratio_live_to_plain": paired["live"],
        "ratio_cached_to_plain": paired["cached"],
        "ratio_of_medians": {mode: median[mode] / median["plain"] for mode in ("live", "cached")},
        "cached_within_target": paired["cached"] <= TARGET,
        "cache_build_seconds": cache_seconds,
        "first_epoch_seconds": warmup,
    }


def run_backend(backend, args):
    """Runs one backend's worker in a fresh process and returns its result."""
    command = [sys.executable, os.path.abspath(__file__), "--worker", "--samples",
               str(args.samples), "--rounds", str(args.rounds), "--timesteps",
               str(args.timesteps), "--batch-size", str(args.batch_size)]
    env = {**os.environ, "KERAS_BACKEND": backend,
           "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(command, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{backend} worker failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=(*BACKENDS, "all"), default="all")
    parser.add_argument("--samples", type=int, default=512,
                        help="training images per timed epoch (default 512)")
    parser.add_argument("--rounds", type=int, default=7, help="A B C rounds (default 7)")
    parser.add_argument("--timesteps", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--fast", action="store_true",
                        help="smoke run: 128 samples, 1 round, T=2")
    parser.add_argument("--out", default=os.path.join(HERE, "results", "distill_overhead.json"))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.fast:
        args.samples, args.rounds, args.timesteps = 128, 1, 2
    if args.worker:
        print(json.dumps(measure(args.samples, args.rounds, args.timesteps, args.batch_size)))
        return None
    backends = BACKENDS if args.backend == "all" else (args.backend,)
    results = {}
    for backend in backends:
        print(f"{backend}: {args.rounds} rounds of plain / live / cached ...", flush=True)
        results[backend] = run_backend(backend, args)
        r = results[backend]
        print(f"  samples/s plain {r['samples_per_second']['plain']:.0f}, live "
              f"{r['samples_per_second']['live']:.0f}, cached "
              f"{r['samples_per_second']['cached']:.0f}; time live/plain "
              f"{r['ratio_live_to_plain']:.3f}, cached/plain {r['ratio_cached_to_plain']:.3f}"
              f" (target <= {TARGET}); cache built in {r['cache_build_seconds']:.2f} s",
              flush=True)
    report = {
        "benchmark": "distill_overhead",
        "student": f"models.reference_snn(timesteps={args.timesteps})",
        "teacher": "models.reference_ann()",
        "loss": "0.5 * cross-entropy + 0.5 * ResponseKD(temperature=4)",
        "batch_size": args.batch_size,
        "rounds": args.rounds,
        "target_cached_to_plain": TARGET,
        "machine": {"processor": platform.processor() or platform.machine(),
                    "cpu_count": os.cpu_count(), "python": platform.python_version()},
        "date": time.strftime("%Y-%m-%d"),
        "results": results,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2)
    print(f"wrote {args.out}")
    return report


if __name__ == "__main__":
    main()
