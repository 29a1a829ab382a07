"""The distillation experiments and the overhead benchmark run in their fast modes.

The scripts are backend-agnostic and the library calls they make are tested on every
backend elsewhere, so their fast modes run once per CI run, on PyTorch, where they are
quickest (eager, nothing to compile: about 15 s together, against about 80 s under JAX's
and 50 s under TensorFlow's compilation).
"""

import importlib
import json
import os

import pytest

from conftest import BACKEND, ROOT

EXAMPLES = ("distill_ann_to_snn", "distill_snn_to_snn", "distill_multistage", "distill_noise")
pytestmark = pytest.mark.skipif(
    BACKEND != "torch", reason="backend-agnostic scripts, run once per CI run (under torch)")


def check_summary(summary):
    assert set(summary) == {"mean", "std", "runs"}
    assert len(summary["runs"]) == 1 and 0.0 <= summary["mean"] <= 1.0 and summary["std"] == 0.0


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_fast_mode(name, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(os.path.join(ROOT, "examples"))
    importlib.import_module(name).main(["--fast", "--out", str(tmp_path)])
    with open(tmp_path / f"{name}.json") as f:
        report = json.load(f)
    assert report["fast"] and report["seeds"] == 1 and report["backend"] == BACKEND
    if name == "distill_noise":
        assert (tmp_path / "distill_noise.png").stat().st_size > 0
        for kind in ("gaussian", "salt_and_pepper"):
            for rows in report["table"][kind].values():
                assert rows[0]["level"] == 0.0 and len(rows) >= 4
                for row in rows:
                    check_summary({k: row[k] for k in ("mean", "std", "runs")})
    else:
        assert any(key.startswith("teacher") for key in report["table"])
        assert any("scratch" in key for key in report["table"]) and len(report["table"]) >= 4
        for summary in report["table"].values():
            check_summary(summary)


def test_overhead_benchmark_fast_mode(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(os.path.join(ROOT, "benchmarks"))
    benchmark = importlib.import_module("distill_overhead")
    out = tmp_path / "overhead.json"
    benchmark.main(["--fast", "--backend", BACKEND, "--out", str(out)])
    with open(out) as f:
        result = json.load(f)["results"][BACKEND]
    assert set(result["median_seconds"]) == {"plain", "live", "cached"}
    assert result["ratio_of_medians"]["cached"] == pytest.approx(
        result["median_seconds"]["cached"] / result["median_seconds"]["plain"])
    assert result["cached_within_target"] == (result["ratio_cached_to_plain"] <= 1.15)
    assert result["cache_build_seconds"] > 0
