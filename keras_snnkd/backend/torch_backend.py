"""PyTorch implementations of the keras_snnkd.backend functions."""

import keras
import torch
from keras import ops

# TimeFolded's default: all time steps in one fold. Under torch.compile, chunks of
# 4 steps made the training step slower (docs: results/speed-notes.md).
FOLD_STEPS = None
# TimeFolded pools tiling windows as a reshape and a mean: ATen's avg_pool keeps its
# input for the backward pass (keras_snnkd.layers.tiled_pooling).
POOLS_AS_MEAN = True


def value_and_grad(fn, args):
    args = [ops.convert_to_tensor(a).detach().requires_grad_(True) for a in args]
    value = fn(*args)
    grads = torch.autograd.grad(value, args)
    return value.detach().cpu().numpy(), [g.cpu().numpy() for g in grads]


def scan(step, init, xs):
    """``keras.ops.scan`` (a Python loop over axis 0 of ``xs`` on PyTorch)."""
    return ops.scan(step, init, xs)


def fusion_barrier(membrane, spikes):
    """``membrane`` itself: TorchInductor does not recompute the neuron loop
    the way XLA does (see `keras_snnkd.backend.xla_fusion`)."""
    del spikes
    return membrane


# A region keeps one cache entry per layer and input shape it is called with in a
# traced step; PyTorch's default cap (8) would fail a model with 9 spiking layers.
MAX_REGION_ENTRIES = 4096


def reused_region(fn):
    """``torch.compiler.nested_compile_region(fn)``: traced and compiled once per
    distinct input (layer, shapes, dtypes), then called again at every use."""
    return torch.compiler.nested_compile_region(fn, max_reuse_entries=MAX_REGION_ENTRIES)


def clear_gradients(variables):
    """Sets each variable's ``.grad`` to None."""
    for v in variables:
        v.value.grad = None


def _teacher_targets(distiller, x):
    """``(inputs, teacher outputs)``: cached, or computed under ``no_grad``."""
    inputs, cached = distiller.split_inputs(x)
    if cached is not None:
        return inputs, distiller.checked_cache(cached)
    with torch.no_grad():
        return inputs, distiller.teacher_outputs(inputs)


def distill_train_step(distiller, data):
    """One `Distiller` training step: teacher under ``no_grad``, student by autograd."""
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    inputs, teacher = _teacher_targets(distiller, x)
    distiller.zero_grad()
    student = distiller.student_outputs(inputs, training=True)
    total, terms = distiller.loss_terms(inputs, y, sample_weight, teacher, student,
                                        training=True)
    distiller.optimizer.scale_loss(total).backward()
    weights = distiller.trainable_weights[:]
    with torch.no_grad():
        distiller.optimizer.apply([w.value.grad for w in weights], weights)
    # Every step then starts as the first did, with no gradients: torch.compile
    # guards on `grad is None`, and a step that found gradients (left by the
    # step before) would compile the training step a second time.
    clear_gradients(weights)
    return distiller.update_metrics(inputs, y, sample_weight, student, total, terms)


def distill_test_step(distiller, data):
    """One `Distiller` evaluation step (no gradients, no updates)."""
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    inputs, teacher = _teacher_targets(distiller, x)
    with torch.no_grad():
        student = distiller.student_outputs(inputs, training=False)
        total, terms = distiller.loss_terms(inputs, y, sample_weight, teacher, student,
                                            training=False)
    return distiller.update_metrics(inputs, y, sample_weight, student, total, terms)
