"""`prune`: magnitude pruning of a spiking model with TensorFlow Model Optimization."""

import math

import keras
import numpy as np

from keras_snnkd.export.tfmot_bridge import (
    WEIGHTED, finetune_in_worker, history_result, weighted_layers)
from keras_snnkd.validation import check_choice, check_number

SCHEDULES = ("polynomial", "constant")

RAMP = 0.7
"""Share of the fine-tuning steps over which the polynomial schedule ramps up."""


def prune(model, x, y, sparsity=0.75, epochs=5, schedule="polynomial", teacher=None,
          batch_size=64, learning_rate=2e-3, verbose="auto"):
    """Prunes the Dense/Conv2D kernels of a spiking model to ``sparsity`` zeros.

    The model is rebuilt as a tf_keras mirror in a TensorFlow-backend worker
    process (`keras_snnkd.export.tfmot_bridge`), its Dense and Conv2D layers
    are wrapped in tfmot's ``prune_low_magnitude`` and it is fine-tuned for
    ``epochs`` on ``x, y``, distilled from the teacher's logits ``t``::

        loss = (1 - w) * CE(y, s) + w * tau^2 * KL(softmax(t/tau) || softmax(s/tau))

    (``w = 0.5``, ``tau = 2``; `keras_snnkd.export.tf_keras_mirror.finetune`).
    ``schedule="polynomial"`` raises the sparsity from 0 to the target as
    ``s_k = s * (1 - (1 - k/K)^3)`` over the first 70 % of the steps (tfmot's
    ``PolynomialDecay``); ``"constant"`` prunes to the target at step 0.
    Then ``strip_pruning`` and the weights are copied into a copy of
    ``model``. Every kernel of ``n`` weights holds at least ``ceil(s * n)``
    zeros; biases, neuron parameters and thresholds are unchanged; ``model``
    itself is not modified. Works under every backend.

    Args:
        model: a built spiking `keras.Model` that `to_tflite` accepts.
        x: training inputs ``(N, *input_shape)``.
        y: integer labels ``(N,)``.
        sparsity: share of zeros per kernel, in ``[0, 1)``.
        epochs: fine-tuning epochs.
        schedule: ``"polynomial"`` or ``"constant"``.
        teacher: None (distil from ``model``'s own outputs on ``x``, computed
            once), another `keras.Model`, or an array of logits ``(N, classes)``.
        batch_size, learning_rate: of the fine-tuning (Adam).
        verbose: passed to ``fit`` in the worker (its output is not shown).

    Returns:
        A new Keras 3 model of the same architecture with pruned kernels.

    Raises:
        ValueError: bad ``sparsity``, data or layers the mirror cannot
            rebuild (all named); ImportError: the ``tfmot`` extra is missing.

    Example:
    >>> import numpy as np
    >>> from keras_snnkd.models import dense_snn
    >>> from keras_snnkd.export import kernel_sparsity, prune
    >>> model = dense_snn(timesteps=2, input_shape=(8, 8, 1), hidden=(16,))
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.random((64, 8, 8, 1)).astype("float32"), rng.integers(0, 10, 64)
    >>> pruned = prune(model, x, y, sparsity=0.5, epochs=2, verbose=0)
    >>> all(share >= 0.5 for share in kernel_sparsity(pruned).values())
    True
    >>> min(kernel_sparsity(model).values()) < 0.5  # the original is untouched
    True
    """
    owner = "prune"
    sparsity = check_number(owner, "sparsity", sparsity, low=0.0, high=1.0,
                            low_inclusive=True, high_inclusive=False)
    check_choice(owner, "schedule", schedule, SCHEDULES)
    options = {"sparsity": sparsity, "epochs": epochs, "schedule": schedule,
               "batch_size": batch_size, "learning_rate": learning_rate, "verbose": verbose}

    def check_steps(x):
        steps = _steps(len(x), epochs, batch_size)
        if schedule == "polynomial" and sparsity > 0 and steps < 2:
            raise ValueError(
                f"{owner}: schedule='polynomial' needs at least 2 training steps; got epochs "
                f"* ceil(N / batch_size) = {epochs} * ceil({len(x)} / {batch_size}) = "
                f"{steps}. Give more data or epochs, or use schedule='constant'.")

    return finetune_in_worker(owner, "prune", model, x, y, teacher, options, check_steps)


def kernel_sparsity(model):
    """Share of exact zeros in each Dense/Conv2D kernel of ``model``.

    Returns:
        ``{layer name: zeros / size}`` (layers inside `TimeFolded` by their
        own name).

    Example:
    >>> import keras
    >>> from keras_snnkd.export import kernel_sparsity
    >>> dense = keras.layers.Dense(2, kernel_initializer="zeros", name="dense")
    >>> kernel_sparsity(keras.Sequential([keras.Input((3,)), dense]))
    {'dense': 1.0}
    """
    shares = {}
    for layer in weighted_layers(model):
        kernel = keras.ops.convert_to_numpy(layer.kernel)
        shares[layer.name] = float(np.mean(kernel == 0))
    return shares


def _steps(samples, epochs, batch_size):
    return epochs * math.ceil(samples / batch_size)


def zeros_needed(sparsity, size):
    """``ceil(sparsity * size)``: the fewest zeros that make ``sparsity``."""
    return math.ceil(sparsity * size - 1e-9)


def _target(sparsity, size):
    """The tfmot target that leaves exactly `zeros_needed` zeros: tfmot keeps
    ``round(size * (1 - target))`` weights, rounding half to even."""
    zeros = zeros_needed(sparsity, size)
    return 0.0 if zeros == 0 else (zeros + 0.25) / size if zeros < size else (size - 0.25) / size


def _schedule(tfmot, options, size, steps):
    target = _target(options["sparsity"], size)
    frequency = max(1, steps // (4 * options["epochs"]))
    if target == 0.0 or options["schedule"] == "constant":
        return tfmot.sparsity.keras.ConstantSparsity(target, begin_step=0, frequency=frequency)
    end = max(frequency, int(RAMP * steps) // frequency * frequency)
    return tfmot.sparsity.keras.PolynomialDecay(0.0, target, begin_step=0, end_step=end,
                                                frequency=frequency)


def tfmot_task(model, arrays, options, output):
    """Worker side (tf_keras process): prunes ``model`` and saves it to ``output``."""
    import tensorflow_model_optimization as tfmot

    from keras_snnkd.export.tf_keras_mirror import build_mirror, copy_back, finetune

    x, y, teacher = arrays["x"], arrays["y"], arrays["teacher"]
    steps = _steps(len(x), options["epochs"], options["batch_size"])

    def wrap(twin, original):
        if not isinstance(original, WEIGHTED):
            return twin
        size = int(np.prod(original.kernel.shape))
        return tfmot.sparsity.keras.prune_low_magnitude(
            twin, pruning_schedule=_schedule(tfmot, options, size, steps))

    mirror, pairs = build_mirror(model, wrap)
    history = finetune(mirror, x, y, teacher, options["epochs"], options["batch_size"],
                       options["learning_rate"], [tfmot.sparsity.keras.UpdatePruningStep()],
                       options["verbose"])
    copy_back(pairs, tfmot.sparsity.keras.strip_pruning(mirror))
    for layer in weighted_layers(model):
        kernel = keras.ops.convert_to_numpy(layer.kernel)
        if np.sum(kernel == 0) < zeros_needed(options["sparsity"], kernel.size):
            raise RuntimeError(
                f"prune: layer {layer.name!r} reached {np.mean(kernel == 0):.4f} zeros, "
                f"short of sparsity={options['sparsity']} (a tfmot schedule problem).")
    model.save(output)
    return history_result(history)
