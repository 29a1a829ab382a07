"""TensorFlow implementations of the keras_snnkd.backend functions."""

import keras
import tensorflow as tf

from keras_snnkd.backend import xla_fusion

fusion_barrier = xla_fusion.fusion_barrier
reused_region = xla_fusion.reused_region
# TimeFolded's default: XLA's CPU training steps ran faster on chunks of 4 time
# steps than on all of them at once (docs: results/speed-notes.md).
FOLD_STEPS = 4
# TimeFolded calls Keras's pooling layer: TensorFlow's AvgPoolGrad takes only the
# input's shape, and the reshape-and-mean form made the step without XLA 30 % slower
# (T = 4: 83 against 63-65 ms; alike with XLA; docs: results/speed-notes.md).
POOLS_AS_MEAN = False


def clear_gradients(variables):
    """Nothing to clear: TensorFlow returns gradients and keeps none on the variables."""
    del variables


def value_and_grad(fn, args):
    args = [tf.convert_to_tensor(a) for a in args]
    with tf.GradientTape() as tape:
        for a in args:
            tape.watch(a)
        value = fn(*args)
    grads = tape.gradient(value, args)
    return value.numpy(), [g.numpy() for g in grads]


def scan(step, init, xs):
    """``jax.lax.scan`` over axis 0 of ``xs`` as a ``tf.while_loop`` whose trip
    count and TensorArray sizes are static when ``xs`` has a static length, so
    its gradient compiles under XLA (Keras's own TensorFlow scan sets no
    ``maximum_iterations`` and fails there)."""
    xs = tf.convert_to_tensor(xs)
    init = tf.nest.map_structure(tf.convert_to_tensor, init)
    n = xs.shape[0] if xs.shape[0] is not None else tf.shape(xs)[0]
    inputs = tf.TensorArray(xs.dtype, size=n).unstack(xs)
    shapes = [c.shape for c in tf.nest.flatten(init)]
    _, probe = step(init, xs[0])  # traced once to learn the outputs' structure
    # ys of None (only the carry wanted) stack to None, as in jax.lax.scan
    outputs = () if probe is None else tf.nest.map_structure(
        lambda y: tf.TensorArray(y.dtype, size=n, element_shape=y.shape), probe)

    def body(i, carry, outputs):
        carry, ys = step(carry, inputs.read(i))
        carry = tf.nest.pack_sequence_as(init, [
            tf.ensure_shape(c, shape) for c, shape in zip(tf.nest.flatten(carry), shapes)])
        if probe is not None:
            outputs = tf.nest.map_structure(lambda ta, y: ta.write(i, y), outputs, ys)
        return i + 1, carry, outputs

    _, carry, outputs = tf.while_loop(lambda i, *_: i < n, body, (0, init, outputs),
                                      maximum_iterations=n)
    return carry, None if probe is None else tf.nest.map_structure(
        lambda ta: ta.stack(), outputs)


def _teacher_targets(distiller, x):
    """``(inputs, teacher outputs)``: cached, or computed outside any tape."""
    inputs, cached = distiller.split_inputs(x)
    if cached is not None:
        return inputs, distiller.checked_cache(cached)
    teacher = distiller.teacher_outputs(inputs)
    return inputs, tf.nest.map_structure(tf.stop_gradient, teacher)


def _replicas():
    """Replicas that each run the step on a share of the batch (``tf.distribute``)."""
    return tf.distribute.get_strategy().num_replicas_in_sync


def distill_train_step(distiller, data):
    """One `Distiller` training step: teacher outside the tape, student under it.

    Under a ``tf.distribute`` strategy each replica's gradient is of its batch
    mean divided by the replica count: the strategy sums the replicas'
    gradients, which gives the gradient of the global batch mean."""
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    inputs, teacher = _teacher_targets(distiller, x)
    replicas = _replicas()
    with tf.GradientTape() as tape:
        student = distiller.student_outputs(inputs, training=True)
        total, terms = distiller.loss_terms(inputs, y, sample_weight, teacher, student,
                                            training=True, replicas=replicas)
        scaled = distiller.optimizer.scale_loss(total / replicas)
    weights = distiller.trainable_weights
    distiller.optimizer.apply_gradients(zip(tape.gradient(scaled, weights), weights))
    return distiller.update_metrics(inputs, y, sample_weight, student, total, terms)


def distill_test_step(distiller, data):
    """One `Distiller` evaluation step (no gradients, no updates)."""
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    inputs, teacher = _teacher_targets(distiller, x)
    student = distiller.student_outputs(inputs, training=False)
    total, terms = distiller.loss_terms(inputs, y, sample_weight, teacher, student,
                                        training=False, replicas=_replicas())
    return distiller.update_metrics(inputs, y, sample_weight, student, total, terms)
