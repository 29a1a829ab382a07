import json

from click.testing import CliRunner

from keras_snnkd import cli

from conftest import BACKEND, ROOT, run_python


def test_demo_fast_mode_prints_accuracy_and_rates(tmp_path):
    out = tmp_path / "demo.json"
    result = CliRunner().invoke(
        cli.main, ["--backend", BACKEND, "demo", "--epochs", "1", "--limit", "128",
                   "--timesteps", "2", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "Test accuracy:" in result.output and "Firing rate" in result.output
    summary = json.loads(out.read_text())
    assert summary["backend"] == BACKEND and summary["train_samples"] == 128
    assert len(summary["firing_rates"]) == 3
    assert all(0.0 <= r <= 1.0 for r in summary["firing_rates"].values())


def test_help_on_every_command():
    runner = CliRunner()
    for args in (["--help"], ["demo", "--help"]):
        result = runner.invoke(cli.main, args)
        assert result.exit_code == 0 and "Usage:" in result.output


def test_user_errors_exit_non_zero_without_traceback():
    code = (
        "import sys\n"
        "from keras_snnkd.cli import run\n"
        "sys.argv = ['snnkd'] + sys.argv[1:]\n"
    )
    for args in (["demo", "--timesteps", "0"], ["--backend", "mxnet", "demo"],
                 ["demo", "--epochs", "x"], ["nonexistent"]):
        script = code + f"sys.argv = ['snnkd'] + {args!r}\nrun()\n"
        import subprocess, sys, os
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": ROOT}, timeout=120)
        assert proc.returncode != 0, args
        assert "Traceback" not in proc.stderr, proc.stderr
        assert "Error" in proc.stderr or "Usage" in proc.stderr
