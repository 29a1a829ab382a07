"""The speed targets of keras_snnkd's training step, checked against one run of throughput.py.

The targets hold for the reference network (DESIGN.md) at T = 4, batch 64, as ratios
within one run (absolute rates drift on shared machines):

- training samples/s: the best backend at least 1.5x SpikingJelly's, every backend at
  least 1.0x;
- ``limit_ratio`` (SNN training samples/s x T / the same network as an ANN at batch B*T):
  at least 0.8 on the best backend, 0.6 on every backend;
- at T = 32 (the sweep): a first step (trace and compile) of at most 30 s and a step of at
  most 9x the T = 4 step, on every backend;
- peak memory of training: at most SpikingJelly's, on every backend. Where the run measured
  each backend installed alone (``--single-backend-envs``), that figure counts: with every
  backend installed, ``import keras`` imports the others too, which SpikingJelly's process
  does not.

A target the run has no figures for (no sweep, another T or batch) is left out, never
counted as met.
"""

import operator

TARGET_T, TARGET_BATCH, SWEEP_T = 4, 64, 32
COMPARE = {">=": operator.ge, "<=": operator.le}
# Per comparison: which backend's figure is the best one and which the worst one.
BEST = {">=": max, "<=": min}
WORST = {">=": min, "<=": max}


def _peak_vs_spikingjelly(r):
    alone = r.get("single_backend_install")
    peak = (alone or r)["peak_rss_mb"]
    return peak / r["peers_memory"]["spikingjelly"]["peak_rss_mb"]


def _target(name, compare, wanted, values, best=False):
    """One target over ``values`` (backend -> figure): the best backend's figure where
    ``best``, else the worst one's."""
    where = (BEST if best else WORST)[compare](values, key=values.get)
    return {"target": name, "compare": compare, "wanted": wanted, "measured": values[where],
            "backend": where, "values": values,
            "met": COMPARE[compare](values[where], wanted)}


def check(result):
    """The targets a throughput.py run's ``result`` has figures for.

    Args:
        result: the dictionary throughput.py writes (``results``, optionally ``sweep``).

    Returns:
        A list of dictionaries, one per target: ``target`` (what it asks), ``compare``
        (``">="`` or ``"<="``), ``wanted``, ``measured`` (the deciding backend's figure),
        ``backend`` (that backend), ``values`` (every backend's figure) and ``met``.

    Example:
    >>> row = {"backend": "jax", "T": 4, "batch": 64, "speedup_vs_spikingjelly": 2.0,
    ...        "limit_ratio": 0.9, "peak_rss_mb": 500.0,
    ...        "peers_memory": {"spikingjelly": {"peak_rss_mb": 600.0}}}
    >>> [(t["target"], t["met"]) for t in check({"results": [row]})][:2]
    [('best backend x SpikingJelly', True), ('every backend x SpikingJelly', True)]
    """
    rows = [r for r in result["results"]
            if (r["T"], r["batch"]) == (TARGET_T, TARGET_BATCH)]
    if not rows:
        return []
    speedup = {r["backend"]: r["speedup_vs_spikingjelly"] for r in rows}
    limit = {r["backend"]: r["limit_ratio"] for r in rows}
    targets = [
        _target("best backend x SpikingJelly", ">=", 1.5, speedup, best=True),
        _target("every backend x SpikingJelly", ">=", 1.0, speedup),
        _target("best backend limit ratio", ">=", 0.8, limit, best=True),
        _target("every backend limit ratio", ">=", 0.6, limit),
    ]
    sweep = [s for s in result.get("sweep", []) if s["T"] == SWEEP_T]
    if sweep:
        targets += [
            _target(f"T = {SWEEP_T} first step (s)", "<=", 30.0,
                    {s["backend"]: s["first_step_s"] for s in sweep}),
            _target(f"T = {SWEEP_T} step / T = {TARGET_T} step", "<=", 9.0,
                    {s["backend"]: s["step_vs_T4"] for s in sweep}),
        ]
    targets.append(_target("peak memory / SpikingJelly's", "<=", 1.0,
                           {r["backend"]: _peak_vs_spikingjelly(r) for r in rows}))
    return targets


def report(targets):
    """One line per target, for the benchmark's output."""
    return "\n".join(
        f"  {'met   ' if t['met'] else 'MISSED'} {t['target']}: {t['measured']:.2f} "
        f"({t['backend']}) {t['compare']} {t['wanted']:g}" for t in targets)
