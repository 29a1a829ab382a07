"""The tfmot bridge: checks in the user's process, tfmot work in a tf_keras worker.

TensorFlow Model Optimization (tfmot 0.8) rejects Keras 3 models but works on
tf_keras models. `prune`, `cluster` and ``to_tflite(quantize="qat")`` check their
arguments here, in the user's process under any backend, then save the model
as ``.keras`` and run the tfmot job in a subprocess started with
``KERAS_BACKEND=tensorflow`` and ``TF_USE_LEGACY_KERAS=1`` (which must be set
before TensorFlow first imports Keras), where the model is rebuilt as a
tf_keras mirror (`keras_snnkd.export.tf_keras_mirror`). The user's process
never imports tf_keras and the user's model is never modified. The worker seeds
its random numbers (`WORKER_SEED`: weight init of tfmot wrappers, k-means++,
the fine-tuning's shuffling), so the same inputs give the same result.
"""

import importlib
import importlib.util
import json
import os
import sys
import tempfile

import keras
import numpy as np

from keras_snnkd.export._worker import run_job, serve
from keras_snnkd.export.plan import _IDENTITY, _READOUTS, _chain, ExportPlan
from keras_snnkd.layers import RepeatEncoder, TimeFolded
from keras_snnkd.neurons import IF, LIF, ParametricLIF
from keras_snnkd.validation import check_number, check_positive_int

EXTRA = "pip install 'keras_snnkd[tfmot]'"
REQUIRED = ("tensorflow", "tf_keras", "tensorflow_model_optimization")
MIRRORED = ("Dense, Conv2D, AveragePooling2D, MaxPooling2D, Flatten, Reshape, "
            "BatchNormalization, ReLU, Dropout, TimeFolded(...) of those, RepeatEncoder, "
            "IF, LIF, ParametricLIF, MeanOverTime, SpikeCount, LastMembrane")
_STATELESS = (keras.layers.Dense, keras.layers.Conv2D, keras.layers.AveragePooling2D,
              keras.layers.MaxPooling2D, keras.layers.Flatten, keras.layers.Reshape,
              keras.layers.BatchNormalization, keras.layers.ReLU)
WEIGHTED = (keras.layers.Dense, keras.layers.Conv2D)
"""Layer types whose kernels `prune` and `cluster` rewrite (also inside `TimeFolded`)."""
_TASKS = {"prune": "keras_snnkd.export.pruning", "cluster": "keras_snnkd.export.clustering",
          "qat": "keras_snnkd.export.tfmot_qat"}


def require_tfmot(owner):
    """Raises ImportError naming the ``tfmot`` extra if a needed package is missing."""
    missing = [name for name in REQUIRED if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(
            f"{owner}: needs TensorFlow Model Optimization on tf_keras; not installed: "
            f"{', '.join(missing)}. Install the extra: {EXTRA}."
        )


def _mirrorable(layer):
    if isinstance(layer, TimeFolded):
        layer = layer.layer
    if isinstance(layer, keras.layers.Activation):
        return getattr(layer.activation, "__name__", "") == "relu"
    return isinstance(layer, (keras.layers.InputLayer, *_IDENTITY, RepeatEncoder, IF, LIF,
                              ParametricLIF, *_READOUTS, *_STATELESS))


def _kind(layer):
    if isinstance(layer, TimeFolded):
        return f"TimeFolded({type(layer.layer).__name__})"
    return type(layer).__name__


def check_mirrorable(owner, model):
    """Returns the `ExportPlan` of ``model`` after checking every layer has a
    tf_keras twin; raises ValueError naming all layers that do not."""
    if isinstance(model, keras.Model) and model.built and getattr(model, "inputs", None):
        odd = [f"{layer.name!r} ({_kind(layer)})" for layer in _chain(model)
               if not _mirrorable(layer)]
        if odd:
            raise ValueError(
                f"{owner}: the tf_keras mirror cannot rebuild layer(s) {', '.join(odd)} of "
                f"model {model.name!r}. Mirrored layers: {MIRRORED}."
            )
    try:
        return ExportPlan.from_model(model)
    except (TypeError, ValueError) as error:
        raise type(error)(f"{owner}: {error}") from None


def check_data(owner, plan, x, y, x_name="x", y_name="y"):
    """Returns ``x`` as float32 ``(N, *input_shape)`` and ``y`` as int64
    labels ``(N,)`` in ``[0, classes)`` after checking them."""
    shape = ", ".join(map(str, plan.input_shape))
    try:
        x = np.asarray(x, "float32")
    except (TypeError, ValueError) as error:
        raise TypeError(f"{owner}: `{x_name}` must be a float array, got "
                        f"{type(x).__name__} ({error}).") from None
    if x.ndim != len(plan.input_shape) + 1 or tuple(x.shape[1:]) != tuple(plan.input_shape):
        raise ValueError(f"{owner}: `{x_name}` must have shape (N, {shape}) to match the "
                         f"model input; got {x.shape}.")
    if len(x) == 0:
        raise ValueError(f"{owner}: `{x_name}` is empty; give at least one sample.")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{owner}: `{x_name}` contains NaN or infinite values.")
    labels = np.asarray(y)
    classes = plan.output_shape[-1]
    if labels.shape != (len(x),) or labels.dtype.kind not in "iu":
        raise ValueError(f"{owner}: `{y_name}` must be integer class labels of shape "
                         f"({len(x)},) (one per sample of `{x_name}`); got shape "
                         f"{labels.shape} and dtype {labels.dtype}.")
    if labels.min() < 0 or labels.max() >= classes:
        raise ValueError(f"{owner}: `{y_name}` must hold labels in [0, {classes}) for a "
                         f"model with {classes} outputs; got values from {labels.min()} to "
                         f"{labels.max()}.")
    return x, labels.astype("int64")


def teacher_logits(owner, model, teacher, x):
    """The teacher's outputs on ``x``: ``model``'s own (``teacher=None``), another
    Keras model's, or an array given as is; checked to be ``(N, classes)``."""
    if teacher is None:
        teacher = model
    if isinstance(teacher, keras.Model):
        logits = teacher.predict(x, batch_size=256, verbose=0)
    else:
        try:
            logits = np.asarray(teacher, "float32")
        except (TypeError, ValueError):
            raise TypeError(f"{owner}: `teacher` must be None, a keras.Model or an array "
                            f"of logits; got {type(teacher).__name__}.") from None
    logits = np.asarray(logits, "float32")
    expected = (len(x), int(model.outputs[0].shape[-1]))
    if logits.shape != expected:
        raise ValueError(f"{owner}: the teacher's outputs must have shape {expected} (one "
                         f"logit vector per sample, as many classes as the model); got "
                         f"{logits.shape}.")
    if not np.all(np.isfinite(logits)):
        raise ValueError(f"{owner}: the teacher's outputs contain NaN or infinite values.")
    return logits


def weighted_layers(model):
    """The `WEIGHTED` layers of ``model``, taken out of their `TimeFolded` wrappers."""
    for layer in model.layers:
        inner = getattr(layer, "layer", layer)
        if isinstance(inner, WEIGHTED):
            yield inner


def finetune_in_worker(owner, task, model, x, y, teacher, options, check=None):
    """Parent side of `prune` and `cluster`: checks, then the tfmot job.

    Checks the fine-tuning settings in ``options`` (``epochs``, ``batch_size``,
    ``learning_rate``), that the mirror can rebuild ``model`` and the data
    (`check_data`), then ``check(x)`` (the task's own checks on the data),
    computes the teacher's logits (`teacher_logits`) and runs ``task`` in
    the worker.

    Returns:
        The new Keras 3 model the job saved.
    """
    check_positive_int(owner, "epochs", options["epochs"])
    check_positive_int(owner, "batch_size", options["batch_size"])
    check_number(owner, "learning_rate", options["learning_rate"], low=0.0)
    plan = check_mirrorable(owner, model)
    x, y = check_data(owner, plan, x, y)
    if check is not None:
        check(x)
    arrays = {"x": x, "y": y, "teacher": teacher_logits(owner, model, teacher, x)}
    return run_tfmot_job(owner, task, model, arrays, options, returns_model=True)[1]


def history_result(history):
    """Worker side: a job's JSON result, the fine-tuning's tf_keras ``History``."""
    return {"history": {k: [float(v) for v in vs] for k, vs in history.history.items()}}


def run_tfmot_job(owner, task, model, arrays, options, returns_model):
    """Runs ``task`` ("prune", "cluster" or "qat") in a tf_keras worker process.

    Returns:
        ``(result, model)``: the job's JSON result and, with
        ``returns_model``, the Keras 3 model the job saved (else None).
    """
    require_tfmot(owner)
    with tempfile.TemporaryDirectory() as folder:
        job = {"task": task, "options": options,
               "model": os.path.join(folder, "model.keras"),
               "output": os.path.join(folder, "output.keras"),
               "result": os.path.join(folder, "result.json"),
               "error": os.path.join(folder, "error.json"),
               "arrays": {name: os.path.join(folder, f"{name}.npy") for name in arrays}}
        model.save(job["model"])
        for name, array in arrays.items():
            np.save(job["arrays"][name], array)
        run_job(owner, "keras_snnkd.export.tfmot_bridge", job,
                env={"TF_USE_LEGACY_KERAS": "1"})
        with open(job["result"]) as handle:
            result = json.load(handle)
        output = keras.saving.load_model(job["output"]) if returns_model else None
    return result, output


WORKER_SEED = 0


def _dispatch(job):
    """Worker side: loads the model and arrays and runs the task module's ``tfmot_task``."""
    import tf_keras

    tf_keras.utils.set_random_seed(WORKER_SEED)
    model = keras.saving.load_model(job["model"])
    arrays = {name: np.load(path) for name, path in job["arrays"].items()}
    result = importlib.import_module(_TASKS[job["task"]]).tfmot_task(
        model, arrays, job["options"], job["output"])
    with open(job["result"], "w") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    serve(sys.argv[1], _dispatch)
