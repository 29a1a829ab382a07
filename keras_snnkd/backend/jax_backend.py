"""JAX implementations of the keras_snnkd.backend functions."""

import jax
import keras
import numpy as np

from keras_snnkd.backend import xla_fusion

fusion_barrier = xla_fusion.fusion_barrier
reused_region = xla_fusion.reused_region
# TimeFolded's default: XLA's CPU training steps ran faster on chunks of 4 time
# steps than on all of them at once (docs: results/speed-notes.md).
FOLD_STEPS = 4
# TimeFolded calls Keras's pooling layer: XLA's pooling keeps nothing for the
# backward pass, and the reshape-and-mean form stepped alike (docs: results/speed-notes.md).
POOLS_AS_MEAN = False


def clear_gradients(variables):
    """Nothing to clear: JAX returns gradients and keeps none on the variables."""
    del variables


def value_and_grad(fn, args):
    value, grads = jax.value_and_grad(lambda *a: fn(*a), argnums=tuple(range(len(args))))(
        *[jax.numpy.asarray(a) for a in args]
    )
    return np.asarray(value), [np.asarray(g) for g in grads]


def scan(step, init, xs):
    """``jax.lax.scan`` over axis 0 of ``xs``."""
    return jax.lax.scan(step, init, xs)


def _stateless(variables, values, fn, collect_losses=False):
    """Runs ``fn()`` with ``variables`` read from ``values``; returns its result
    and the variables' values afterwards (the updated ones where ``fn`` assigned)."""
    with keras.StatelessScope(state_mapping=list(zip(variables, values)),
                              collect_losses=collect_losses) as scope:
        result = fn()
    return result, [scope.get_current_value(v) for v in variables]


def _teacher_targets(distiller, x, trainable, non_trainable):
    """``(inputs, teacher outputs, non-trainable values)``: the cached outputs, or a
    forward pass whose state updates (e.g. encoder seeds) are kept, without gradient."""
    inputs, cached = distiller.split_inputs(x)
    if cached is not None:
        return inputs, distiller.checked_cache(cached), non_trainable
    variables = distiller.trainable_variables + distiller.non_trainable_variables
    teacher, values = _stateless(variables, [*trainable, *non_trainable],
                                 lambda: distiller.teacher_outputs(inputs))
    return inputs, jax.lax.stop_gradient(teacher), values[len(trainable):]


def distill_train_step(distiller, state, data):
    """One stateless, jit-able `Distiller` training step: ``(logs, new state)``."""
    trainable, non_trainable, optimizer_values, metrics_values = state
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    inputs, teacher, non_trainable = _teacher_targets(distiller, x, trainable, non_trainable)
    variables = (distiller.trainable_variables + distiller.non_trainable_variables
                 + distiller.metrics_variables)
    sizes = (len(trainable), len(non_trainable))

    def loss_fn(trainable):
        def forward():
            student = distiller.student_outputs(inputs, training=True)
            total, terms = distiller.loss_terms(inputs, y, sample_weight, teacher, student,
                                                training=True)
            return student, total, terms

        (student, total, terms), values = _stateless(
            variables, [*trainable, *non_trainable, *metrics_values], forward,
            collect_losses=True)
        scaled, _ = _stateless(distiller.optimizer.variables, optimizer_values,
                               lambda: distiller.optimizer.scale_loss(total))
        return scaled, (student, total, terms, values[sizes[0]:])

    (_, (student, total, terms, values)), grads = jax.value_and_grad(
        loss_fn, has_aux=True)(trainable)
    non_trainable, metrics_values = values[:sizes[1]], values[sizes[1]:]
    trainable, optimizer_values = distiller.optimizer.stateless_apply(
        optimizer_values, grads, trainable)
    logs, metrics_values = _stateless(
        distiller.metrics_variables, metrics_values,
        lambda: distiller.update_metrics(inputs, y, sample_weight, student, total, terms))
    return logs, (trainable, non_trainable, optimizer_values, metrics_values)


def distill_test_step(distiller, state, data):
    """One stateless `Distiller` evaluation step: ``(logs, new state)``."""
    trainable, non_trainable, metrics_values = state
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    inputs, teacher, non_trainable = _teacher_targets(distiller, x, trainable, non_trainable)
    variables = (distiller.trainable_variables + distiller.non_trainable_variables
                 + distiller.metrics_variables)

    def evaluate():
        student = distiller.student_outputs(inputs, training=False)
        total, terms = distiller.loss_terms(inputs, y, sample_weight, teacher, student,
                                            training=False)
        return distiller.update_metrics(inputs, y, sample_weight, student, total, terms)

    logs, values = _stateless(variables, [*trainable, *non_trainable, *metrics_values],
                              evaluate, collect_losses=True)
    split = len(trainable) + len(non_trainable)
    return logs, (trainable, values[len(trainable):split], values[split:])
