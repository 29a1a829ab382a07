"""`snnkd demo` on each Keras backend: the figures of the README's "Measured" section.

Runs ``python -m keras_snnkd.cli --backend B demo --out <out>/demo_<B>`` for each backend
in turn (one fresh process each, as a user would), times each whole run from process
start to exit, and collects every run's ``summary.json``.

    python benchmarks/demo_backends.py                        # all three backends
    python benchmarks/demo_backends.py --backends jax --fast  # smoke run (used by the tests)

Writes ``demo_backends.json`` (``demo_backends_fast.json`` with ``--fast``) to ``--out``
(default ``benchmarks/results``), and copies the cost plots of the first backend's run
there as ``demo_cost_energy.png`` and ``demo_cost_firing_rates.png``. The runs' folders
(models, .tflite, C array, and ``output.txt``: what the demo printed) go to a temporary
folder, or to ``--runs`` to keep them.
"""

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BACKENDS = ("tensorflow", "jax", "torch")
PLOTS = ("cost_energy.png", "cost_firing_rates.png")


def run_demo(backend, folder, fast):
    """One `snnkd demo` process; returns its summary with the process's wall time."""
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "keras_snnkd.cli", "--backend", backend, "demo",
               "--out", folder] + (["--fast"] if fast else [])
    start = time.perf_counter()
    proc = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"snnkd demo failed on {backend}:\n{proc.stdout[-3000:]}\n"
                           f"{proc.stderr[-3000:]}")
    with open(os.path.join(folder, "output.txt"), "w") as handle:
        handle.write(proc.stdout)  # what the user sees: steps, progress, summary table
    with open(os.path.join(folder, "summary.json")) as handle:
        summary = json.load(handle)
    summary["process_seconds"] = round(seconds, 1)
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--fast", action="store_true", help="the demo's smoke mode")
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    parser.add_argument("--runs", default=None, help="keep the demo folders here")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    suffix = "_fast" if args.fast else ""
    runs = {}
    with tempfile.TemporaryDirectory() as scratch:
        for backend in args.backends:
            folder = os.path.join(args.runs or scratch, f"demo_{backend}")
            runs[backend] = run_demo(backend, folder, args.fast)
            print(f"{backend}: {runs[backend]['process_seconds']} s, student "
                  f"{runs[backend]['student']['test_accuracy']:.3f}", flush=True)
        first = os.path.join(args.runs or scratch, f"demo_{args.backends[0]}")
        for plot in PLOTS:
            shutil.copyfile(os.path.join(first, plot),
                            os.path.join(args.out, f"demo_{plot[:-4]}{suffix}.png"))
    report = {"benchmark": "demo_backends", "date": datetime.date.today().isoformat(),
              "cpu_count": os.cpu_count(), "fast": args.fast, "runs": runs}
    path = os.path.join(args.out, f"demo_backends{suffix}.json")
    with open(path, "w") as handle:
        json.dump(report, handle, indent=2)
    print(f"Wrote {path}")
    return report


if __name__ == "__main__":
    main()
