"""PyTorch's activation memory budget on the reference SNN: peak memory against step time.

Under ``torch.compile``, PyTorch's partitioner chooses which activations a training step
saves for its backward pass and which the backward recomputes.
``torch._functorch.config.activation_memory_budget`` (default 1.0: save whatever makes the
step fastest) set below 1 has it recompute more to save memory. This benchmark measures
that trade on keras_snnkd's reference network (``jit_compile=True``, batch 64), per T: one
worker per budget and the peers' eager training steps (as in the main benchmark's table),
each built and warmed up once, then asked in turn (A B C D A B C D ...) for bursts of
training steps. Every first step is cold (no compiler cache). With
``--single-backend-envs DIR`` the keras_snnkd workers run with PyTorch alone installed, as
in the main benchmark's memory column; the peers run in this environment, where they import
PyTorch alone.

Usage:
    python benchmarks/torch_memory_budget.py --single-backend-envs ~/.cache/snnkd-envs
    python benchmarks/torch_memory_budget.py --T 4 --budgets 0.5 --json /tmp/budget.json
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import throughput  # noqa: E402  (a sibling script: its workers and interleaving)

DEFAULT_BUDGET = 1.0


def label(budget):
    return f"keras_snnkd, budget {budget:g}"


def measure(args, timesteps, python):
    """Rows of one T: each budget's keras_snnkd worker and each peer's, interleaved."""
    options = argparse.Namespace(T=timesteps, batch=args.batch, jit="true",
                                 precision="float32")
    budgets = [DEFAULT_BUDGET] + sorted(set(args.budgets) - {DEFAULT_BUDGET}, reverse=True)
    workers = []
    try:
        for budget in budgets:
            workers.append(throughput.Worker("snn:torch", options, label=label(budget),
                                             python=python, activation_budget=budget))
            print(f"  T={timesteps} {workers[-1].label}: first step "
                  f"{workers[-1].ready['first_step_s']:.1f} s", flush=True)
        workers += [throughput.Worker(p, options) for p in throughput.PEERS]
        step, peak = throughput.alternate(workers, "train", args.rounds, args.steps)
    finally:
        for w in workers:
            w.close()
    default = label(DEFAULT_BUDGET)
    rows = []
    for w, budget in zip(workers, budgets + [None] * len(throughput.PEERS)):
        rows.append({"system": w.label, "T": timesteps, "activation_memory_budget": budget,
                     "first_step_s": w.ready["first_step_s"], "step_s": step[w.label],
                     "train_samples_per_s": args.batch / step[w.label],
                     "peak_rss_mb": peak[w.label],
                     "training_rss_mb": peak[w.label] - w.ready["rss_after_imports_mb"],
                     "step_vs_default": step[w.label] / step[default],
                     "peak_vs_spikingjelly": peak[w.label] / peak["spikingjelly"]})
        print(f"  T={timesteps} {w.label}: step {step[w.label] * 1000:.0f} ms, peak "
              f"{peak[w.label]:.0f} MB", flush=True)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--T", type=int, nargs="+", default=[4, 32])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--budgets", type=float, nargs="+", default=[0.5],
                   help="activation memory budgets measured besides PyTorch's default (1.0)")
    p.add_argument("--rounds", type=int, default=5, help="interleaved bursts per system")
    p.add_argument("--steps", type=int, default=4, help="steps per burst")
    p.add_argument("--single-backend-envs", default=None, metavar="DIR",
                   help="run keras_snnkd's workers in DIR/torch, a virtual environment with "
                        "keras_snnkd[torch] alone (made when missing)")
    p.add_argument("--json", default=os.path.join(HERE, "results", "torch_memory_budget.json"))
    args = p.parse_args(argv)
    bad = [b for b in args.budgets if not 0.0 <= b <= 1.0]
    if bad:
        p.error(f"--budgets must lie in [0, 1]; got {bad}")
    if min(args.T) < 1 or args.batch < 1 or args.rounds < 1 or args.steps < 1:
        p.error("--T, --batch, --rounds and --steps must be at least 1")
    python = sys.executable
    if args.single_backend_envs:
        python = throughput.single_backend_python(
            os.path.expanduser(args.single_backend_envs), "torch")
    rows = [row for T in args.T for row in measure(args, T, python)]
    throughput.write_json(args.json, {
        "machine": throughput.machine(), "batch": args.batch,
        "single_backend_install": bool(args.single_backend_envs), "rows": rows})


if __name__ == "__main__":
    main()
