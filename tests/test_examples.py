"""The examples' fast modes run (tiny data, one epoch), so none of them rots.

The distillation and conversion examples are run by tests/test_distill_examples.py
and tests/test_convert.py; `test_every_example_runs_in_some_test` checks that no
example is left out.
"""

import difflib
import importlib
import json
import os
import pathlib
import re

import keras
import pytest

from keras_snnkd import models

from conftest import BACKEND, BACKENDS, ROOT

EXAMPLES = pathlib.Path(ROOT) / "examples"
HELPERS = {"distill_common"}  # imported by examples, not run on their own


@pytest.fixture
def examples(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    return lambda name: importlib.import_module(name)


def code_lines(name):
    """The script's lines after its module docstring."""
    text = (EXAMPLES / f"{name}.py").read_text()
    return text[text.index('"""', 3) + 3:].splitlines()


def test_adding_distillation_to_a_keras_script_changes_a_handful_of_lines():
    diff = [line for line in difflib.unified_diff(code_lines("keras_script_before"),
                                                  code_lines("add_distillation_to_keras_script"),
                                                  lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    added = [line for line in diff if line.startswith("+")]
    removed = [line for line in diff if line.startswith("-")]
    assert len(added) <= 8 and len(removed) <= 4, "\n".join(diff)
    assert any("Distiller(teacher, model" in line for line in added)


def test_keras_script_before_and_after_fast_mode(examples, tmp_path):
    before = examples("keras_script_before").main(["--fast", "--out", str(tmp_path)])
    teacher = tmp_path / "teacher.keras"
    models.reference_ann().save(teacher)
    after = examples("add_distillation_to_keras_script").main(
        ["--fast", "--teacher", str(teacher), "--out", str(tmp_path)])
    for name, result in (("keras_script_before", before),
                         ("add_distillation_to_keras_script", after)):
        saved = json.loads((tmp_path / f"{name}.json").read_text())
        assert saved == json.loads(json.dumps(result))
        assert saved["backend"] == BACKEND and saved["fast"] and saved["epochs"] == 1
        assert saved["train"] == 250 and 0.0 <= saved["test_accuracy"] <= 1.0
        student = keras.saving.load_model(tmp_path / f"{name}.keras")
        assert student.output_shape == (None, 10)


def test_export_microcontroller_fast_mode(examples, tmp_path):
    result = examples("export_microcontroller").main(["--fast", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "export_microcontroller_fast.json").read_text())
    assert saved == json.loads(json.dumps(result))
    folder = tmp_path / "export_microcontroller_fast"
    assert {"snn_model.tflite", "snn_model.h", "snn_model.cc"} <= set(os.listdir(folder))
    assert saved["tflite_bytes"] == os.path.getsize(folder / "snn_model.tflite")
    assert saved["test_images"] == 64 and saved["tflite_micro"]["arena_bytes"] > 0
    assert 0.0 <= saved["tflite_micro"]["agreement_with_float"] <= 1.0
    check = saved["c_array_check"]
    if check["compiled"]:
        assert check["same_bytes"] and check["aligned_16"] and check["exit_code"] == 0
        assert check["len"] == saved["tflite_bytes"]
    else:
        assert "no C++ compiler" in check["reason"]
    assert "FULLY_CONNECTED" in saved["op_resolver"]
    assert saved["ethos_u55"]["npu_op_share"] == 1.0


def test_compare_backends_fast_mode(examples, tmp_path):
    """This backend and the next one (each CI run covers another pair of the cycle)."""
    pair = [BACKEND, BACKENDS[(BACKENDS.index(BACKEND) + 1) % len(BACKENDS)]]
    report = examples("compare_backends").main(["--fast", "--backends", *pair,
                                                "--out", str(tmp_path)])
    assert json.loads((tmp_path / "compare_backends_fast.json").read_text()) == report
    assert list(report["results"]) == pair
    first, second = (report["results"][b] for b in pair)
    assert first["loads_files_saved_under"] == {}
    load = second["loads_files_saved_under"][pair[0]]
    assert load["top1_agreement"] == 1.0 and load["max_abs_logit_difference"] < 1e-4
    assert (tmp_path / "compare_backends_fast.png").stat().st_size > 10_000


def test_every_example_runs_in_some_test():
    tests = "".join(path.read_text() for path in pathlib.Path(ROOT, "tests").glob("test_*.py"))
    names = {path.stem for path in EXAMPLES.glob("*.py")} - HELPERS
    untested = sorted(name for name in names if not re.search(rf"[\"']{name}[\"']", tests))
    assert not untested, f"examples without a fast-mode test: {untested}"
