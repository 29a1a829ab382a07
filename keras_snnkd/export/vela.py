"""`vela_report`: compiles a ``.tflite`` for an Arm Ethos-U NPU with Vela."""

import csv
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

from keras_snnkd.export._files import input_file

ACCELERATORS = ("ethos-u55-32", "ethos-u55-64", "ethos-u55-128", "ethos-u55-256",
                "ethos-u65-256", "ethos-u65-512", "ethos-u85-128", "ethos-u85-256",
                "ethos-u85-512", "ethos-u85-1024", "ethos-u85-2048")


def _vela_executable():
    """The ``vela`` script beside this Python, or on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "vela")
    found = beside if os.path.isfile(beside) else shutil.which("vela")
    if found is None:
        raise FileNotFoundError(
            "vela_report: the Vela compiler (`vela`) was not found beside "
            f"{sys.executable} nor on PATH. Install it with "
            "`pip install ethos-u-vela` (or `pip install 'keras_snnkd[export]'`)."
        )
    return found


def vela_report(tflite_path, accelerator="ethos-u55-128", output_dir=None, vela=None):
    """Compiles a model with Vela and reports NPU placement, memory and cycles.

    Vela places every operator it can on the NPU; the rest fall back to the
    Cortex-M CPU. Vela's default system configuration (Ethos-U55 high-end
    embedded, shared SRAM, weights in off-chip flash) is used.

    Args:
        tflite_path: an int8 ``.tflite`` file.
        accelerator: an Ethos-U configuration (see `ACCELERATORS`).
        output_dir: folder for Vela's optimized ``.tflite`` and summary; a
            temporary folder (deleted afterwards) when None.
        vela: path of the ``vela`` executable; found automatically when None.

    Returns:
        A dict: ``npu_ops``, ``cpu_ops``, ``npu_op_share`` (0..1),
        ``cpu_op_types`` (the operator types left on the CPU), ``sram_bytes``,
        ``flash_bytes`` (off-chip flash used), ``cycles`` (total estimated
        cycles per inference), ``npu_cycles``, ``latency_s`` (estimated),
        ``macs``, ``accelerator``, ``optimized_path`` (None without
        ``output_dir``).

    Raises:
        FileNotFoundError: ``tflite_path`` or the Vela compiler is missing.
        RuntimeError: Vela failed (its message is included).

    Example:
    >>> import os, tempfile, numpy as np, tensorflow as tf
    >>> double = tf.function(lambda x: tf.nn.relu(2.0 * x), input_signature=[tf.TensorSpec((1, 4))])
    >>> blob = tf.lite.TFLiteConverter.from_concrete_functions(
    ...     [double.get_concrete_function()], double).convert()
    >>> path = os.path.join(tempfile.mkdtemp(), "double.tflite")
    >>> _ = open(path, "wb").write(blob)
    >>> from keras_snnkd.export import vela_report
    >>> report = vela_report(path)  # a float model: the NPU runs int8 only
    >>> report["npu_op_share"], report["cpu_ops"] > 0
    (0.0, True)
    """
    owner = "vela_report"
    tflite_path = input_file(owner, "tflite_path", tflite_path)
    if accelerator not in ACCELERATORS:
        raise ValueError(
            f"{owner}: `accelerator` must be one of {', '.join(ACCELERATORS)}; got "
            f"{accelerator!r}."
        )
    if vela is None:
        vela = _vela_executable()
    elif not os.path.isfile(vela):
        raise FileNotFoundError(f"{owner}: `vela` is not an existing file: {vela!r}.")
    with tempfile.TemporaryDirectory() as scratch:
        folder = scratch if output_dir is None else output_dir
        os.makedirs(folder, exist_ok=True)
        proc = subprocess.run(
            [vela, "--accelerator-config", accelerator, "--output-dir", folder,
             "--show-cpu-operations", tflite_path],
            capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(
                f"{owner}: Vela failed on {tflite_path!r} (exit {proc.returncode}):\n"
                f"{(proc.stdout + proc.stderr)[-3000:]}"
            )
        stem = os.path.splitext(os.path.basename(tflite_path))[0]
        summaries = glob.glob(os.path.join(folder, f"{stem}_summary_*.csv"))
        with open(summaries[0]) as handle:
            summary = next(csv.DictReader(handle))
        optimized = os.path.join(folder, f"{stem}_vela.tflite")
        return _report(proc.stdout + proc.stderr, summary, accelerator,
                       None if output_dir is None else optimized)


def _report(output, summary, accelerator, optimized):
    counts = {}
    for unit in ("CPU", "NPU"):
        match = re.search(rf"{unit} operators = (\d+)", output)
        counts[unit] = int(match.group(1)) if match else 0
    total = counts["CPU"] + counts["NPU"]
    cpu_types = sorted(set(re.findall(r"operator: ([A-Z0-9_]+), ofm", output)))
    kib = 1024
    return {
        "accelerator": accelerator,
        "npu_ops": counts["NPU"],
        "cpu_ops": counts["CPU"],
        "npu_op_share": counts["NPU"] / total if total else 0.0,
        "cpu_op_types": cpu_types,
        "sram_bytes": int(round(float(summary["sram_memory_used"]) * kib)),
        "flash_bytes": int(round(float(summary["off_chip_flash_memory_used"]) * kib)),
        "cycles": int(float(summary["cycles_total"])),
        "npu_cycles": int(float(summary["cycles_npu"])),
        "latency_s": float(summary["inference_time"]),
        "macs": int(float(summary["nn_macs"])),
        "optimized_path": optimized,
    }
