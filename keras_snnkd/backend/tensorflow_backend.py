"""TensorFlow implementations of the keras_snnkd.backend functions."""

import tensorflow as tf


def value_and_grad(fn, args):
    args = [tf.convert_to_tensor(a) for a in args]
    with tf.GradientTape() as tape:
        for a in args:
            tape.watch(a)
        value = fn(*args)
    grads = tape.gradient(value, args)
    return value.numpy(), [g.numpy() for g in grads]
