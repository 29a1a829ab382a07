"""Export jobs in a TensorFlow-backend subprocess.

Export always runs through TensorFlow. A job is a JSON dict handed to
``python -m MODULE JOB``; the parent saves the model as ``.keras`` beside it.
The child writes any exception to ``job["error"]`` and the parent re-raises
it with the same type (ValueError, TypeError, ImportError; RuntimeError for
anything else), so the user sees the child's message, not a traceback dump.
"""

import json
import os
import subprocess
import sys

_KINDS = {"ValueError": ValueError, "TypeError": TypeError, "ImportError": ImportError,
          "ModuleNotFoundError": ImportError}


def _package_root():
    import keras_snnkd

    return os.path.dirname(os.path.dirname(os.path.abspath(keras_snnkd.__file__)))


def run_job(owner, module, job, env=None):
    """Runs ``python -m module job`` with ``KERAS_BACKEND=tensorflow`` (plus ``env``).

    ``job`` must hold an ``"error"`` path in a folder the caller owns.

    Raises:
        The child's exception (same type and message), or RuntimeError with
        the end of its stderr when it died without reporting one.
    """
    full_env = {**os.environ, "KERAS_BACKEND": "tensorflow", **(env or {}),
                "PYTHONPATH": os.pathsep.join(
                    [_package_root(), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.run([sys.executable, "-m", module, json.dumps(job)],
                          env=full_env, capture_output=True, text=True)
    if os.path.exists(job["error"]):
        with open(job["error"]) as handle:
            error = json.load(handle)
        raise _KINDS.get(error["type"], RuntimeError)(error["message"])
    if proc.returncode != 0:
        raise RuntimeError(
            f"{owner}: the TensorFlow-backend worker process failed "
            f"(exit {proc.returncode}):\n{proc.stderr[-4000:]}"
        )


def serve(argument, work):
    """Child side: ``work(job)`` on the JSON ``argument``; any exception is
    written to ``job["error"]`` for the parent, then re-raised."""
    job = json.loads(argument)
    try:
        work(job)
    except Exception as error:  # reported to the parent, which re-raises it
        with open(job["error"], "w") as handle:
            json.dump({"type": type(error).__name__, "message": str(error)}, handle)
        raise
