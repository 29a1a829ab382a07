"""Every user error of `snnkd` prints one line `Error: ...` on stderr and exits non-zero,
without a traceback; `--debug` shows the traceback.

The cases run through the real entry point `keras_snnkd.cli.run` in one child
interpreter (a fresh process per case would cost a Keras start-up each), which
records each case's exit code and stderr. (`python -m keras_snnkd.cli` as a whole
process is run by tests/test_cli.py.)
"""

import collections
import json
import os
import subprocess
import sys

import pytest

from keras_snnkd import models

from conftest import BACKEND, ROOT

DRIVER = """
import contextlib, io, json, sys, traceback
from keras_snnkd.cli import run
results = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            run(argv)
            code = 0
        except SystemExit as exit:
            code = exit.code
        except BaseException:  # escaped run(): what the user would see as a traceback
            code, _ = "raised", traceback.print_exc()
    results.append({"argv": argv, "code": code, "stderr": err.getvalue()})
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli_errors")
    teacher = models.reference_ann(input_shape=(8, 8, 1))
    student = models.dense_snn(timesteps=2, input_shape=(8, 8, 1), hidden=(8,))
    five_classes = models.dense_snn(timesteps=2, input_shape=(8, 8, 1), hidden=(8,),
                                    num_classes=5)
    paths = {name: str(folder / f"{name}.keras") for name in
             ("teacher", "student", "five_classes", "not_a_model")}
    teacher.save(paths["teacher"])
    student.save(paths["student"])
    five_classes.save(paths["five_classes"])
    with open(paths["not_a_model"], "w") as handle:
        handle.write("this is not a zip file")
    configs = {
        "unknown_key": "epoch: 3\n",
        "not_a_mapping": "- 1\n- 2\n",
        "bad_yaml": "epochs: [1, 2\n",
        "bad_value": "epochs: zero\n",
    }
    for name, text in configs.items():
        paths[name] = str(folder / f"{name}.yaml")
        with open(paths[name], "w") as handle:
            handle.write(text)
    paths["folder"] = str(folder)
    paths["empty_keras_home"] = str(tmp_path_factory.mktemp("keras_home"))
    return paths


def cases(f):
    missing = os.path.join(f["folder"], "missing.keras")
    return {
        "missing model file": (["cost", missing], "does not exist"),
        "missing teacher file": (["distill", missing, f["student"]], "does not exist"),
        "bad option value": (["demo", "--timesteps", "0"], "--timesteps"),
        "option of the wrong type": (["demo", "--epochs", "x"], "'x' is not a valid integer"),
        "unknown option": (["demo", "--epoch", "3"], "No such option '--epoch'"),
        "unknown command": (["nonexistent"], "No such command"),
        "unknown backend": (["--backend", "mxnet", "demo"], "'mxnet' is not one of"),
        "unknown dataset": (["cost", f["student"], "--data", "imagenet"], "imagenet"),
        "unknown YAML key": (["distill", f["teacher"], f["student"], "--config",
                              f["unknown_key"]], "unknown key 'epoch'"),
        "YAML not a mapping": (["demo", "--config", f["not_a_mapping"]], "mapping"),
        "invalid YAML": (["demo", "--config", f["bad_yaml"]], "not valid YAML"),
        "bad value in YAML": (["demo", "--config", f["bad_value"]], "'zero'"),
        "incompatible teacher and student": (
            ["distill", f["teacher"], f["five_classes"], "--data", "digits", "--out",
             os.path.join(f["folder"], "out.keras")], "same shape"),
        "model does not fit the data": (["cost", f["student"]], "(8, 8, 1)"),
        "not a .keras file": (["cost", f["not_a_model"], "--data", "digits"], "cannot load"),
        "unknown energy profile": (["cost", f["student"], "--data", "digits", "--profile",
                                    "quantum"], "quantum"),
        "output folder missing": (["cost", f["student"], "--data", "digits", "--json",
                                   os.path.join(f["folder"], "no", "cost.json")],
                                  "does not exist"),
        "local dataset missing": (["cost", f["student"], "--data", "mnist"], "never downloads"),
        "data path for an embedded dataset": (["cost", f["student"], "--data", "digits",
                                               "--data-path", f["folder"]], "embedded"),
        "feature KD without layers": (["distill", f["teacher"], f["student"], "--kd", "feature",
                                       "--data", "digits"], "--teacher-layer"),
        "Vela on a float export": (["export", f["student"], "--quantize", "float", "--vela"],
                                   "--vela needs"),
        "C header without .h": (["export", f["student"], "--c-header", "model.txt"], ".h"),
    }


def run_cases(argvs, env_extra):
    env = {**os.environ, "KERAS_BACKEND": BACKEND, "PYTHONPATH": ROOT, **env_extra}
    proc = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(argvs)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def debug_case(files):
    return ["--debug", "cost", files["student"], "--data", "digits", "--profile", "quantum"]


@pytest.fixture(scope="module")
def outcomes(files):
    table = cases(files)
    argvs = [argv for argv, _ in table.values()] + [debug_case(files)]
    results = run_cases(argvs, {"KERAS_HOME": files["empty_keras_home"]})
    return {name: result for name, result in zip([*table, "--debug"], results)}


@pytest.mark.parametrize("name", list(cases(collections.defaultdict(str))))
def test_user_error_is_one_line_without_traceback(name, files, outcomes):
    expected = cases(files)[name][1]
    result = outcomes[name]
    assert result["code"] not in (0, "raised"), result
    lines = result["stderr"].strip().splitlines()
    assert len(lines) == 1, result["stderr"]
    assert lines[0].startswith("Error: ") and expected in lines[0], lines[0]
    assert "Traceback" not in result["stderr"]


def test_debug_shows_the_traceback(outcomes):
    result = outcomes["--debug"]
    assert result["code"] == "raised"
    assert "Traceback" in result["stderr"] and "quantum" in result["stderr"]
