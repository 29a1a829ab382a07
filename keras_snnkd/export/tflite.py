"""`to_tflite`: a spiking Keras model as a static, batch-1 TFLite flatbuffer."""

import os
import sys
import tempfile

import keras
import numpy as np

from keras_snnkd.export._files import atomic_outputs, output_path
from keras_snnkd.export._worker import run_job, serve
from keras_snnkd.export.plan import ExportPlan
from keras_snnkd.validation import check_positive_int

QUANTIZE_MODES = (None, "dynamic", "int8", "qat")

QAT_REPRESENTATIVE = 256
"""Samples of ``qat_data`` used to calibrate when ``representative_data`` is None."""


def to_tflite(model, path, quantize=None, representative_data=None, timesteps=None,
              search_ranges=True, qat_data=None, qat_epochs=1):
    """Exports a spiking model to a TFLite flatbuffer for microcontrollers and NPUs.

    The model is traced into a static graph (`keras_snnkd.export.StaticGraph`):
    time unrolled to ``T`` steps, batch size 1, weights as constants, neuron
    state carried as tensors (no variables), layers before the encoder run
    once, and the linear layers after the last neuron run once on the spike
    counts. Under a backend other than TensorFlow the model is saved as
    ``.keras`` and converted in a TensorFlow-backend subprocess.

    ``quantize``:

    - ``None``: float32 graph; spikes are ``cast(u > 0)``, equal to the Keras
      model up to float rounding.
    - ``"dynamic"``: int8 weights, float activations.
    - ``"int8"``: full integer graph with int8 input and output and no float
      tensor at all (int32 only for biases). Spikes are exactly 0/1: the
      membrane is shifted so the threshold is the int8 zero, and the spike is
      a saturating ``MUL`` + ``RELU`` into a tensor whose range is exactly
      ``[0, c]`` (see `StaticGraph`). ``representative_data`` calibrates the
      membrane grids (and, with ``search_ranges``, chooses clipped ranges
      that best reproduce the float outputs on it).
    - ``"qat"``: ``"int8"`` after quantization-aware fine-tuning of a copy
      of the model with TensorFlow Model Optimization on its tf_keras mirror
      (the ``tfmot`` extra; `keras_snnkd.export.tfmot_qat`): ``qat_epochs``
      on ``qat_data``, distilled from the model's own float outputs, with
      the kernels, layer outputs and the shifted membranes (which decide the
      spikes) fake-quantized. ``representative_data`` defaults to the first
      256 samples of ``qat_data``. ``model`` is not modified.

    Args:
        model: a built spiking `keras.Model` (see `ExportPlan.from_model`).
        path: where to write the ``.tflite`` file. Written atomically: a
            failed export leaves ``path`` as it was.
        quantize: ``None``, ``"dynamic"`` or ``"int8"``.
        representative_data: float array ``(N, *input_shape)`` of real
            inputs (a few hundred); required for ``"int8"``.
        timesteps: steps to unroll; default the model's own ``T``.
        search_ranges: int8 only: search clipped membrane ranges (slower
            export, better agreement) instead of plain min/max.
        qat_data: ``(x, y)`` training inputs and integer labels; required
            for ``"qat"`` and used only there.
        qat_epochs: QAT fine-tuning epochs.

    Returns:
        ``path``.

    Example:
    >>> import os, tempfile, numpy as np
    >>> from keras_snnkd.models import dense_snn
    >>> from keras_snnkd.export import to_tflite
    >>> model = dense_snn(timesteps=2, input_shape=(8, 8, 1), hidden=(16,))
    >>> data = np.random.default_rng(0).random((16, 8, 8, 1)).astype("float32")
    >>> path = to_tflite(model, os.path.join(tempfile.mkdtemp(), "m.tflite"),
    ...                  quantize="int8", representative_data=data)
    >>> os.path.getsize(path) > 0
    True
    """
    owner = "to_tflite"
    path = output_path(owner, "path", path)
    if quantize not in QUANTIZE_MODES:
        raise ValueError(
            f"{owner}: `quantize` must be None, 'dynamic' or 'int8', or 'qat' (int8 after "
            f"quantization-aware training); got {quantize!r}."
        )
    if not isinstance(search_ranges, bool):
        raise TypeError(f"{owner}: `search_ranges` must be a bool, got {search_ranges!r}.")
    if quantize == "qat":
        _quantization_aware(model, path, representative_data, timesteps, search_ranges,
                            qat_data, qat_epochs)
        return path
    if qat_data is not None:
        raise ValueError(f"{owner}: `qat_data` is used only with quantize='qat'; got "
                         f"quantize={quantize!r}.")
    plan = ExportPlan.from_model(model, timesteps=timesteps)
    data = _check_representative(plan, quantize, representative_data)
    if keras.backend.backend() != "tensorflow":
        _convert_in_subprocess(model, path, quantize, data, plan.timesteps, search_ranges)
        return path
    blob = convert_plan(plan, quantize, data, search_ranges)
    with atomic_outputs(path) as temp:
        with open(temp, "wb") as handle:
            handle.write(blob)
    return path


def _quantization_aware(model, path, representative, timesteps, search_ranges, qat_data,
                        qat_epochs):
    """``quantize="qat"``: checks here, QAT and int8 export in the tfmot worker."""
    from keras_snnkd.export.tfmot_bridge import (
        check_data, check_mirrorable, run_tfmot_job, teacher_logits)

    owner = "to_tflite"
    check_positive_int(owner, "qat_epochs", qat_epochs)
    if not isinstance(qat_data, (tuple, list)) or len(qat_data) != 2:
        raise ValueError(f"{owner}: quantize='qat' needs `qat_data=(x, y)`, training inputs "
                         f"and integer labels; got {type(qat_data).__name__}.")
    check_mirrorable(owner, model)
    plan = ExportPlan.from_model(model, timesteps=timesteps)
    x, y = check_data(owner, plan, *qat_data, x_name="qat_data[0]", y_name="qat_data[1]")
    if representative is None:
        representative = x[:QAT_REPRESENTATIVE]
    representative = _check_representative(plan, "int8", representative)
    arrays = {"x": x, "y": y, "teacher": teacher_logits(owner, model, None, x),
              "representative": representative}
    options = {"path": os.path.abspath(path), "epochs": qat_epochs,
               "timesteps": plan.timesteps, "search_ranges": search_ranges}
    run_tfmot_job(owner, "qat", model, arrays, options, returns_model=False)


def _check_representative(plan, quantize, data):
    owner = "to_tflite"
    if quantize != "int8":
        if data is not None:
            raise ValueError(
                f"{owner}: `representative_data` is used only with quantize='int8' or 'qat'; "
                f"got quantize={quantize!r}."
            )
        return None
    if data is None:
        raise ValueError(
            f"{owner}: quantize='int8' needs `representative_data`, an array of real "
            f"inputs shaped (N, {', '.join(map(str, plan.input_shape))})."
        )
    try:
        data = np.asarray(data, dtype="float32")
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"{owner}: `representative_data` must be a float array, got "
            f"{type(data).__name__} ({error})."
        ) from None
    if data.ndim != len(plan.input_shape) + 1 or tuple(data.shape[1:]) != plan.input_shape:
        raise ValueError(
            f"{owner}: `representative_data` must have shape (N, "
            f"{', '.join(map(str, plan.input_shape))}) to match the model input; got "
            f"{data.shape}."
        )
    if len(data) == 0:
        raise ValueError(f"{owner}: `representative_data` is empty; give at least one sample.")
    if not np.all(np.isfinite(data)):
        raise ValueError(f"{owner}: `representative_data` contains NaN or infinite values.")
    return data


def convert_plan(plan, quantize, data, search_ranges=True):
    """Converts an `ExportPlan` to flatbuffer bytes (TensorFlow backend only)."""
    import tensorflow as tf

    from keras_snnkd.export.static_graph import StaticGraph

    graph = StaticGraph(plan)
    if quantize == "int8":
        function = graph.calibrate(data, search=search_ranges).int8_function()
    else:
        function = graph.float_function()
    spec = tf.TensorSpec((1, *plan.input_shape), tf.float32, name="input")
    concrete = function.get_concrete_function(spec)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], function)
    if quantize is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "int8":
        converter.representative_dataset = lambda: ([sample[None]] for sample in data)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return converter.convert()


def _convert_in_subprocess(model, path, quantize, data, timesteps, search_ranges):
    """Saves the model and converts it in a TensorFlow-backend interpreter."""
    with tempfile.TemporaryDirectory() as folder:
        job = {
            "model": os.path.join(folder, "model.keras"),
            "data": None if data is None else os.path.join(folder, "data.npy"),
            "path": path, "quantize": quantize, "timesteps": timesteps,
            "search_ranges": search_ranges, "error": os.path.join(folder, "error.json"),
        }
        model.save(job["model"])
        if data is not None:
            np.save(job["data"], data)
        run_job("to_tflite", "keras_snnkd.export.tflite", job)


def _convert_job(job):
    """Runs in the conversion subprocess."""
    model = keras.saving.load_model(job["model"])
    data = None if job["data"] is None else np.load(job["data"])
    to_tflite(model, job["path"], quantize=job["quantize"], representative_data=data,
              timesteps=job["timesteps"], search_ranges=job["search_ranges"])


if __name__ == "__main__":
    serve(sys.argv[1], _convert_job)
