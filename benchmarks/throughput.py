"""Training and inference throughput of the reference SNN, against its T x ANN limit and the peers.

One invocation measures, side by side:

- ``snn:<backend>``: keras_snnkd's reference network (``models.reference_snn``), training
  (forward + backward + Adam, ``train_on_batch``) and inference (``predict_on_batch``);
- ``ann:<backend>``: the same network as an ANN (``models.reference_ann``) trained at batch
  ``B*T``: the work of the folded stateless layers, i.e. the speed limit of the SNN;
- ``snntorch`` and ``spikingjelly``: the same network in the peer libraries (peer_networks.py).

Every system lives in its own worker process (so each has its own peak memory), built and
warmed up once; the parent then asks them in turn (A B C D A B C D ...) for short bursts of
steps, so machine noise hits all systems alike, and reports medians and ratios. A second
part sweeps T in {1, 2, 4, 8, 16, 32} per backend: first-step (trace/compile, with cold
compiler caches) time and step time, of the SNN and of its ANN at batch B*T, and the SNN's
second step (PyTorch compiles Keras's training step a second time there), interleaved with
a T = 4 SNN worker, the reference for how the step time grows with T; then the SNN's first
step in a rerun, which finds the compiler caches the first worker left on disk (PyTorch's;
TensorFlow and JAX keep none by default). Last, at T = 4 and 32,
the peers' training steps under ``torch.compile`` against the SNN compiled on PyTorch: the
same compiler, its compile time and the step it gives.

Every run is checked against keras_snnkd's speed targets (speed_targets.py), each written
to the JSON file under ``targets``; ``--check-targets`` makes a missed one exit with status 1.

With ``--single-backend-envs DIR``, the SNN's peak memory is also measured with only one
backend installed (``pip install keras_snnkd[<backend>]`` in a virtual environment per
backend, made in DIR when missing). In the full environment ``import keras`` also imports
JAX, scikit-learn, pandas and matplotlib when they are installed, under every backend.

Usage:
    python benchmarks/throughput.py --backend jax --T 4 --batch 64 --json out.json
    python benchmarks/throughput.py --backend all --single-backend-envs ~/.cache/snnkd-envs \
        --json benchmarks/results/throughput.json
    python benchmarks/throughput.py --jit auto --no-sweep --single-backend-envs ~/.cache/snnkd-envs \
        --json benchmarks/results/throughput_keras_defaults.json   # Keras's default compile
"""

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import speed_targets  # noqa: E402  (a sibling module: the targets a run is checked against)

ROOT = os.path.dirname(HERE)
BACKENDS = ("tensorflow", "jax", "torch")
PEERS = ("snntorch", "spikingjelly")
SWEEP_T = (1, 2, 4, 8, 16, 32)
# A peer's worker with this suffix runs its training step under torch.compile.
COMPILED = "+compile"
COMPILED_PEERS_T = (4, 32)
# The CPU's vector extensions that decide how fast its float32 and bfloat16 kernels run.
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")


# -- worker side --------------------------------------------------------------------------
def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def keras_steps(kind, timesteps, batch, jit_compile, precision, activation_budget=None):
    import keras
    import numpy as np

    from keras_snnkd import models

    if activation_budget is not None:  # PyTorch's: see torch_memory_budget.py
        import torch._functorch.config

        torch._functorch.config.activation_memory_budget = activation_budget
    if precision != "float32":
        keras.mixed_precision.set_dtype_policy(precision)
    # No keras.utils.set_random_seed: it imports TensorFlow (about 560 MB of RSS) when
    # TensorFlow is installed, under every backend. The weights' values do not change
    # the step time.
    rng = np.random.default_rng(0)
    if kind == "snn":
        model, n = models.reference_snn(timesteps=timesteps), batch
    else:
        model, n = models.reference_ann(), batch * timesteps
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=jit_compile)
    # Backend tensors, as fit's data adapters give: a NumPy batch is converted inside
    # the compiled step, which breaks torch.compile's graph at the first layer.
    x = keras.ops.convert_to_tensor(rng.uniform(0, 1, size=(n, 28, 28, 1)).astype("float32"))
    y = keras.ops.convert_to_tensor(rng.integers(0, 10, size=n))
    # model.jit_compile: what Keras made of "auto" on this backend and machine.
    return (lambda: model.train_on_batch(x, y),
            lambda: np.asarray(model.predict_on_batch(x)), bool(model.jit_compile))


def peer_steps(name, timesteps, batch, compiled, precision):
    import torch

    from peer_networks import PEERS as NETS, autocast, train_step_fn

    train = train_step_fn(name, timesteps, batch, precision=precision)
    model = NETS[name](timesteps).eval()
    x = torch.rand(batch, 1, 28, 28)

    def infer():
        with torch.no_grad(), autocast(precision):
            model(x)

    if compiled:  # whole steps, as Keras compiles its train_step and predict_step
        return torch.compile(train), torch.compile(infer), True
    return train, infer, False  # eager PyTorch, as the peers' tutorials run them


def worker(system, timesteps, batch, jit_compile, precision, activation_budget=None):
    """Answers commands on stdin with one JSON line each."""
    baseline = peak_rss_mb()
    name, compiled_peer, _ = system.partition(COMPILED)
    if name in PEERS:
        train, infer, compiled = peer_steps(name, timesteps, batch, bool(compiled_peer),
                                            precision)
    else:
        kind, _ = system.split(":")
        train, infer, compiled = keras_steps(kind, timesteps, batch, jit_compile, precision,
                                             activation_budget)
    imported = peak_rss_mb()
    start = time.perf_counter()
    train()
    first = time.perf_counter() - start
    # Timed too: a compiled PyTorch step that traces zero_grad() compiles again at its
    # second call (the first has no gradients yet, which torch.compile's guards tell
    # apart): the compiled peers' steps, and Keras's when keras_snnkd's setting is off.
    start = time.perf_counter()
    train()
    second = time.perf_counter() - start
    infer()
    # XLA_FLAGS as XLA read it: keras_snnkd adds YNNPACK under JAX (backend/xla_cpu.py).
    print(json.dumps({"first_step_s": first, "second_step_s": second,
                      "rss_after_imports_mb": imported,
                      "rss_start_mb": baseline, "xla_flags": os.environ.get("XLA_FLAGS"),
                      "jit_compile": compiled}),
          flush=True)
    for line in sys.stdin:
        command, *args = line.split()
        if command == "quit":
            break
        fn = {"train": train, "infer": infer}[command]
        times = []
        for _ in range(int(args[0])):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        print(json.dumps({"times": times, "peak_rss_mb": peak_rss_mb()}), flush=True)


# -- parent side --------------------------------------------------------------------------
class Worker:
    def __init__(self, system, args, timesteps=None, label=None, python=sys.executable,
                 compiler_cache=None, activation_budget=None):
        # TorchInductor caches compiled graphs on disk across processes: a cached graph
        # would make the first step of a rerun look like a fast compile. Every first step
        # here is a cold one, as on a fresh machine, unless `compiler_cache` is given: the
        # folder of PyTorch's compiler caches, as a fresh machine starts with it when empty,
        # and as a rerun of a script finds it after a worker that used it before.
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        if compiler_cache is None:
            env["TORCHINDUCTOR_FORCE_DISABLE_CACHES"] = "1"
        else:  # nor disabled from the parent's environment
            env.pop("TORCHINDUCTOR_FORCE_DISABLE_CACHES", None)
            env["TORCHINDUCTOR_CACHE_DIR"] = compiler_cache
        if ":" in system:
            env["KERAS_BACKEND"] = system.split(":")[1]
        cmd = [python, os.path.abspath(__file__), "--worker", system,
               "--T", str(timesteps or args.T), "--batch", str(args.batch),
               "--jit", args.jit, "--precision", args.precision]
        if activation_budget is not None:
            cmd += ["--activation-budget", str(activation_budget)]
        self.system = system
        self.label = label or system  # the key of its times in `alternate`
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, env=env)
        self.ready = self._read()

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.system} died (run it with --worker to see why)")
        return json.loads(line)

    def ask(self, command, steps):
        self.proc.stdin.write(f"{command} {steps}\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self):
        self.proc.stdin.write("quit\n")
        self.proc.stdin.flush()
        self.proc.wait(timeout=60)


def alternate(workers, command, rounds, steps):
    """Per system: all step times over ``rounds`` bursts of ``steps``, interleaved."""
    times = {w.label: [] for w in workers}
    peak = {}
    for _ in range(rounds):
        for w in workers:
            reply = w.ask(command, steps)
            times[w.label] += reply["times"]
            peak[w.label] = reply["peak_rss_mb"]
    return ({s: statistics.median(t) for s, t in times.items()}, peak)


def selected_backends(args):
    """The backends ``--backend`` names: all three for ``all``."""
    return BACKENDS if args.backend == "all" else (args.backend,)


def main_benchmark(args):
    backends = selected_backends(args)
    systems = [f"snn:{b}" for b in backends] + [f"ann:{b}" for b in backends] + list(PEERS)
    print(f"starting {len(systems)} workers: {', '.join(systems)}", flush=True)
    workers = [Worker(s, args) for s in systems]
    try:
        train, peak = alternate(workers, "train", args.rounds, args.steps)
        infer_workers = [w for w in workers if not w.system.startswith("ann:")]
        infer, _ = alternate(infer_workers, "infer", args.rounds, args.steps)
    finally:
        for w in workers:
            w.close()
    ready = {w.system: w.ready for w in workers}
    b, T = args.batch, args.T
    peers = {p: b / train[p] for p in PEERS}
    peer_memory = {p: {"peak_rss_mb": peak[p],
                       "training_rss_mb": peak[p] - ready[p]["rss_after_imports_mb"]}
                   for p in PEERS}
    lean = single_backend_memory(args, backends) if args.single_backend_envs else {}
    results = []
    for backend in backends:
        snn, ann = f"snn:{backend}", f"ann:{backend}"
        snn_train = b / train[snn]
        ann_train = b * T / train[ann]
        results.append({
            "backend": backend, "T": T, "batch": b, "jit_compile": args.jit,
            "jit_compile_resolved": ready[snn]["jit_compile"],
            "precision": args.precision,
            "snn_train_samples_per_s": snn_train,
            "snn_infer_samples_per_s": b / infer[snn],
            "ann_bt_train_samples_per_s": ann_train,
            "limit_ratio": snn_train * T / ann_train,
            "peak_rss_mb": peak[snn],
            "training_rss_mb": peak[snn] - ready[snn]["rss_after_imports_mb"],
            "single_backend_install": lean.get(backend),
            "first_step_s": ready[snn]["first_step_s"],
            "second_step_s": ready[snn]["second_step_s"],
            "xla_flags": ready[snn]["xla_flags"],
            "peers": peers,
            "peers_infer": {p: b / infer[p] for p in PEERS},
            "peers_memory": peer_memory,
            "speedup_vs_best_peer": snn_train / max(peers.values()),
            "speedup_vs_spikingjelly": snn_train / peers["spikingjelly"],
        })
    return results


def single_backend_python(root, backend):
    """The interpreter of a virtual environment holding keras_snnkd (this checkout,
    editable) with ``backend`` alone; made when missing."""
    env = os.path.join(root, backend)
    python = os.path.join(env, "bin", "python")
    if not os.path.exists(python):
        print(f"  making {env} (pip install keras_snnkd[{backend}])", flush=True)
        subprocess.run([sys.executable, "-m", "venv", env], check=True)
        pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        if backend == "torch":  # the CPU build first (see install.sh)
            subprocess.run(pip + ["torch==2.13.0"], check=True)
        subprocess.run(pip + ["-e", f"{ROOT}[{backend}]"], check=True)
    return python


def single_backend_memory(args, backends):
    """Per backend: peak RSS of the SNN's training worker with only that backend
    installed, after as many steps as the main run's workers took."""
    memory = {}
    for backend in backends:
        python = single_backend_python(os.path.expanduser(args.single_backend_envs), backend)
        w = Worker(f"snn:{backend}", args, python=python)
        try:
            peak = w.ask("train", args.rounds * args.steps)["peak_rss_mb"]
        finally:
            w.close()
        memory[backend] = {"peak_rss_mb": peak,
                           "training_rss_mb": peak - w.ready["rss_after_imports_mb"]}
        print(f"  {backend} alone: peak {peak:.0f} MB", flush=True)
    return memory


def sweep(args):
    """Per backend and T: first-step (trace/compile), second-step and step time of the SNN,
    the same of its ANN at batch B*T, and the step time of the SNN at T = 4 (one worker per
    backend, kept through the sweep). The three are interleaved, so the limit ratio and the
    ratio to the T = 4 step each come from one stretch of time. Then the SNN's first step
    in a rerun: a new worker that finds the compiler caches the first one left, as a second
    run of a training script on the same machine does."""
    backends = selected_backends(args)
    rows = []
    for backend in backends:
        snn, ann = f"snn:{backend}", f"ann:{backend}"
        base = Worker(snn, args, timesteps=4, label="T=4")
        try:
            for T in SWEEP_T:
                with tempfile.TemporaryDirectory(prefix="snnkd-compiler-cache-") as cache:
                    workers = [Worker(snn, args, timesteps=T, compiler_cache=cache),
                               Worker(ann, args, timesteps=T)]
                    step, peak = alternate(workers + [base], "train", args.sweep_rounds,
                                           args.sweep_steps)
                    for w in workers:
                        w.close()
                    rerun = Worker(snn, args, timesteps=T, compiler_cache=cache)
                    rerun.close()
                rows.append({"backend": backend, "T": T,
                             "first_step_s": workers[0].ready["first_step_s"],
                             "rerun_first_step_s": rerun.ready["first_step_s"],
                             "second_step_s": workers[0].ready["second_step_s"],
                             "ann_bt_first_step_s": workers[1].ready["first_step_s"],
                             "step_s": step[snn], "ann_bt_step_s": step[ann],
                             "limit_ratio": step[ann] / step[snn], "peak_rss_mb": peak[snn],
                             "T4_step_s": step["T=4"], "step_vs_T4": step[snn] / step["T=4"]})
                print(f"  sweep {backend} T={T}: first {rows[-1]['first_step_s']:.1f} s (rerun "
                      f"{rows[-1]['rerun_first_step_s']:.1f} s), second "
                      f"{rows[-1]['second_step_s']:.1f} s, step {step[snn] * 1000:.0f} ms (ANN "
                      f"at B*T {step[ann] * 1000:.0f} ms, T=4 {step['T=4'] * 1000:.0f} ms)",
                      flush=True)
        finally:
            base.close()
    return rows


def compiled_peers(args):
    """Per T in `COMPILED_PEERS_T`: first-step, second-step and step time of the peers'
    training steps under ``torch.compile`` and of keras_snnkd's SNN on PyTorch
    (``jit_compile=True``), interleaved: the same compiler on all three."""
    rows = []
    for T in COMPILED_PEERS_T:
        workers = ([Worker("snn:torch", args, timesteps=T, label="keras_snnkd")]
                   + [Worker(p + COMPILED, args, timesteps=T, label=p) for p in PEERS])
        try:
            step, peak = alternate(workers, "train", args.sweep_rounds, args.sweep_steps)
        finally:
            for w in workers:
                w.close()
        for w in workers:
            rows.append({"system": w.label, "T": T, "first_step_s": w.ready["first_step_s"],
                         "second_step_s": w.ready["second_step_s"],
                         "step_s": step[w.label], "peak_rss_mb": peak[w.label],
                         "step_vs_keras_snnkd": step[w.label] / step["keras_snnkd"]})
            print(f"  torch.compile T={T} {w.label}: first {w.ready['first_step_s']:.1f} s, "
                  f"second {w.ready['second_step_s']:.1f} s, step {step[w.label] * 1000:.0f} ms",
                  flush=True)
    return rows


def machine():
    """The machine a run measured: CPU cores, the CPU's model and which of ``CPU_FLAGS`` it
    has (read from ``/proc/cpuinfo`` where there is one), for every results file."""
    model, flags = platform.processor() or platform.machine(), set()
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
    return {"cpus": os.cpu_count(), "cpu": model,
            "cpu_flags": [flag for flag in CPU_FLAGS if flag in flags]}


def write_json(path, result):
    """Writes ``result`` to ``path``, making its folder when missing."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {path}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", default="all", choices=BACKENDS + ("all",))
    p.add_argument("--T", type=int, default=4)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--rounds", type=int, default=6, help="interleaved bursts per system")
    p.add_argument("--steps", type=int, default=5, help="steps per burst")
    p.add_argument("--sweep-steps", type=int, default=3)
    p.add_argument("--sweep-rounds", type=int, default=5)
    p.add_argument("--no-sweep", action="store_true")
    p.add_argument("--jit", default="true", choices=("auto", "true", "false"),
                   help="compile(jit_compile=...) for the Keras systems: true (default) is XLA on "
                        "TensorFlow and JAX and torch.compile on PyTorch; auto is Keras's default "
                        "(XLA on JAX only, when on a CPU)")
    p.add_argument("--precision", default="float32", choices=("float32", "mixed_bfloat16"),
                   help="Keras's dtype policy for keras_snnkd's systems; the peers compute "
                        "under torch.autocast to bfloat16 with mixed_bfloat16 (see "
                        "mixed_precision.py for both precisions in one run)")
    p.add_argument("--single-backend-envs", default=None, metavar="DIR",
                   help="also measure the SNN's peak memory with one backend installed, in "
                        "virtual environments DIR/<backend> (made when missing)")
    p.add_argument("--json", default=None)
    p.add_argument("--check-targets", action="store_true",
                   help="exit with status 1 when the run misses a speed target "
                        "(speed_targets.py; checked at T = 4, batch 64)")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--activation-budget", type=float, default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    jit = {"auto": "auto", "true": True, "false": False}[args.jit]
    if args.worker:
        return worker(args.worker, args.T, args.batch, jit, args.precision,
                      args.activation_budget)
    result = {"machine": machine(), "results": main_benchmark(args)}
    for r in result["results"]:
        print(f"{r['backend']:>10}: train {r['snn_train_samples_per_s']:.0f}/s "
              f"(x{r['speedup_vs_spikingjelly']:.2f} SpikingJelly, limit ratio "
              f"{r['limit_ratio']:.2f}), infer {r['snn_infer_samples_per_s']:.0f}/s, "
              f"peak {r['peak_rss_mb']:.0f} MB")
    print("peers: " + ", ".join(f"{k} {v:.0f}/s" for k, v in result["results"][0]["peers"].items()))
    if not args.no_sweep:
        result["sweep"] = sweep(args)
        if args.jit == "true" and "torch" in selected_backends(args):
            result["compiled_peers"] = compiled_peers(args)
    result["targets"] = speed_targets.check(result)
    print("speed targets:\n" + (speed_targets.report(result["targets"])
                                 or "  none checked: they hold at T = 4, batch 64"))
    if args.json:
        write_json(args.json, result)
    if args.check_targets and not all(t["met"] for t in result["targets"]):
        sys.exit(1)


if __name__ == "__main__":
    main()
