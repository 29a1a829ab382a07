"""The speed targets throughput.py checks a run against (benchmarks/speed_targets.py), and
the table the speed page shows of them."""

import doctest
import json
import pathlib

from conftest import ROOT
from test_docs_results import load, results_pages

BENCHMARKS = pathlib.Path(ROOT) / "benchmarks"
speed_targets = load("speed_targets", BENCHMARKS)


def run(speedups=(3.0, 1.2), limits=(1.1, 0.7), peaks=(800.0, 500.0), alone=None,
        sweep=((12.0, 8.0), (25.0, 8.9))):
    """A throughput.py result for two backends, "a" and "b", with the figures given."""
    results = []
    for i, backend in enumerate("ab"):
        results.append({
            "backend": backend, "T": 4, "batch": 64,
            "speedup_vs_spikingjelly": speedups[i], "limit_ratio": limits[i],
            "peak_rss_mb": peaks[i],
            "single_backend_install": alone and {"peak_rss_mb": alone[i]},
            "peers_memory": {"spikingjelly": {"peak_rss_mb": 700.0}}})
    rows = [{"backend": b, "T": T, "first_step_s": first if T == 32 else 1.0,
             "step_vs_T4": ratio if T == 32 else 1.0}
            for b, (first, ratio) in zip("ab", sweep) for T in (4, 32)]
    return {"results": results, "sweep": rows}


def by_name(targets):
    return {t["target"]: t for t in targets}


def test_each_target_is_decided_by_the_best_or_the_worst_backend():
    targets = by_name(speed_targets.check(run()))
    assert list(targets) == ["best backend x SpikingJelly", "every backend x SpikingJelly",
                             "best backend limit ratio", "every backend limit ratio",
                             "T = 32 first step (s)", "T = 32 step / T = 4 step",
                             "peak memory / SpikingJelly's"]
    best, every = targets["best backend x SpikingJelly"], targets["every backend x SpikingJelly"]
    assert (best["measured"], best["backend"], best["met"]) == (3.0, "a", True)
    assert (every["measured"], every["backend"], every["met"]) == (1.2, "b", True)
    assert targets["every backend limit ratio"]["backend"] == "b"
    assert targets["T = 32 first step (s)"]["measured"] == 25.0
    assert targets["T = 32 step / T = 4 step"]["values"] == {"a": 8.0, "b": 8.9}
    memory = targets["peak memory / SpikingJelly's"]
    assert (memory["backend"], memory["met"]) == ("a", False)
    assert memory["measured"] == 800.0 / 700.0


def test_a_figure_past_its_bound_misses_the_target():
    missed = {t["target"] for t in speed_targets.check(
        run(speedups=(1.4, 0.9), limits=(0.7, 0.5), peaks=(600.0, 650.0),
            sweep=((31.0, 8.0), (3.0, 9.5)))) if not t["met"]}
    assert missed == {"best backend x SpikingJelly", "every backend x SpikingJelly",
                      "best backend limit ratio", "every backend limit ratio",
                      "T = 32 first step (s)", "T = 32 step / T = 4 step"}
    # On the bound is met.
    targets = by_name(speed_targets.check(run(speedups=(1.5, 1.0), limits=(0.8, 0.6),
                                              peaks=(700.0, 700.0), sweep=((30.0, 9.0),) * 2)))
    assert all(t["met"] for t in targets.values())


def test_memory_counts_the_backend_alone_where_the_run_measured_it():
    targets = by_name(speed_targets.check(run(peaks=(900.0, 900.0), alone=(650.0, 710.0))))
    memory = targets["peak memory / SpikingJelly's"]
    assert memory["values"] == {"a": 650.0 / 700.0, "b": 710.0 / 700.0}
    assert (memory["backend"], memory["met"]) == ("b", False)


def test_targets_without_figures_are_left_out_not_met():
    result = run()
    del result["sweep"]
    assert "T = 32 first step (s)" not in by_name(speed_targets.check(result))
    other = run()
    for r in other["results"]:
        r["T"] = 8
    assert speed_targets.check(other) == []


def test_the_report_and_the_speed_page_show_every_target():
    targets = speed_targets.check(run())
    lines = speed_targets.report(targets).splitlines()
    assert len(lines) == len(targets)
    assert lines[-1].split() == ["MISSED", "peak", "memory", "/", "SpikingJelly's:", "1.14",
                                 "(a)", "<=", "1"]
    rows = results_pages.speed_targets(targets).splitlines()[2:]
    assert rows[0] == ("| best backend x SpikingJelly | ≥ 1.5 | 3.00 (a) | a 3.00, b 1.20 "
                       "| yes |")
    assert rows[-1].endswith("| 1.14 (a) | a 1.14, b 0.71 | **no** |")


def test_the_recorded_run_holds_the_targets_of_its_own_figures():
    data = json.loads((BENCHMARKS / "results" / "throughput.json").read_text())
    assert data["targets"] == speed_targets.check(data)
    assert "| speed target |" in results_pages.render_table("benchmarks/results/throughput.json")


def test_the_docstring_example_runs():
    assert doctest.testmod(speed_targets).failed == 0
