"""The tf_keras mirror of a spiking Keras 3 model, for TensorFlow Model Optimization.

tfmot 0.8 accepts only tf_keras (Keras 2) models. This module rebuilds a
spiking model layer for layer as a tf_keras functional model that trains like
the original, so tfmot can wrap its Dense/Conv2D layers, then copies the
trained weights back. It imports tf_keras and must run in a process started
with ``TF_USE_LEGACY_KERAS=1`` and ``KERAS_BACKEND=tensorflow`` (the worker of
`keras_snnkd.export.tfmot_bridge`), never in the user's Keras 3 process.

The mirror keeps the time axis folded into the batch axis: a tensor of
``B`` samples and ``T`` steps is ``(B*T, ...)`` with sample ``b`` step ``t``
at row ``b*T + t``. Stateless layers (Dense, Conv2D, pooling, Flatten,
Reshape, BatchNormalization, ReLU) run once on it; `MirrorNeuron` unfolds,
loops over time and folds back; `MirrorReadout` takes the weighted sum over
time. Under direct encoding the layers between the encoder and the first
neuron run once per sample and `MirrorRepeat` copies their output ``T``
times. Neurons run the normal form of `keras_snnkd.export._ops.Neuron`::

    h_t = beta * v_{t-1} + alpha * x_t + gamma,   s_t = H(h_t - theta)

through `keras_snnkd.neurons.dynamics.neuron_step` with the model's own
surrogate, so the mirror computes what the Keras 3 model computes (up to
float rounding). Neuron parameters are constants: only Dense, Conv2D and
BatchNormalization weights are trained and copied back. Dropout-like layers
are left out (they are the identity at inference).
"""

import keras
import numpy as np
import tensorflow as tf
import tf_keras

from keras_snnkd import surrogates
from keras_snnkd.export.plan import _IDENTITY, _READOUTS, _chain, _neuron, ExportPlan
from keras_snnkd.layers import RepeatEncoder, TimeFolded
from keras_snnkd.neurons import SpikingNeuron, dynamics

WEIGHTED = (keras.layers.Dense, keras.layers.Conv2D, keras.layers.BatchNormalization)
"""Keras 3 layer types whose weights the mirror trains and copies back."""


class MirrorRepeat(tf_keras.layers.Layer):
    """``(B, ...) -> (B*T, ...)``: every sample repeated ``T`` times (direct encoding)."""

    def __init__(self, timesteps, **kwargs):
        super().__init__(**kwargs)
        self.timesteps = int(timesteps)

    def call(self, x):
        return tf.repeat(x, self.timesteps, axis=0)

    def get_config(self):
        return {**super().get_config(), "timesteps": self.timesteps}


class MirrorFold(tf_keras.layers.Layer):
    """``(B, T, ...) -> (B*T, ...)``: a time-major input folded into the batch."""

    def call(self, x):
        return tf.reshape(x, tf.concat([[-1], tf.shape(x)[2:]], axis=0))


def _unfold(x, timesteps):
    return tf.reshape(x, tf.concat([[-1, timesteps], tf.shape(x)[1:]], axis=0))


class _QuantizedSurrogate:
    """The neuron's surrogate applied to ``quantize(h - theta)``: with a
    fake-quantizing ``quantize`` the spike is decided on the int8 grid of
    the shifted membrane, as in the exported int8 graph."""

    def __init__(self, surrogate, quantize):
        self.surrogate, self.quantize = surrogate, quantize

    def __call__(self, x, inclusive=False):
        return self.surrogate(self.quantize(x), inclusive=inclusive)


class MirrorNeuron(tf_keras.layers.Layer):
    """A spiking neuron in normal form on a folded ``(B*T, ...)`` tensor.

    ``membrane_activation`` (identity by default) is applied to the shifted
    membrane ``h - theta`` before the Heaviside; tfmot's QAT replaces it by
    a fake-quantizing activation (see `keras_snnkd.export.tfmot_qat`).
    """

    def __init__(self, timesteps, beta, alpha, gamma, threshold, reset, v_reset, initial,
                 inclusive, reset_delay, detach_reset, surrogate, **kwargs):
        super().__init__(**kwargs)
        self.timesteps = int(timesteps)
        self.params = dict(beta=float(beta), alpha=float(alpha), gamma=float(gamma),
                           threshold=float(threshold), reset=reset, v_reset=float(v_reset),
                           initial=float(initial), inclusive=bool(inclusive),
                           reset_delay=bool(reset_delay), detach_reset=bool(detach_reset))
        self.surrogate_config = surrogate
        self.surrogate = surrogates.deserialize(surrogate)
        self.membrane_activation = tf_keras.activations.linear

    def call(self, x):
        p = self.params
        x = _unfold(x, self.timesteps)
        fire = _QuantizedSurrogate(self.surrogate, self.membrane_activation)

        def charge(v, current):
            return p["beta"] * v + p["alpha"] * current + p["gamma"]

        # Unstacked once, not sliced per step: T slice gradients are T zero-padded
        # tensors of the whole input's size, summed (see neurons.dynamics.time_steps).
        steps = tf.unstack(x, num=self.timesteps, axis=1)
        v = tf.zeros_like(steps[0]) + p["initial"]
        spikes = []
        for current in steps:
            s, v = dynamics.neuron_step(
                charge, current, v, threshold=p["threshold"], surrogate=fire,
                reset=p["reset"], v_reset=p["v_reset"], detach_reset=p["detach_reset"],
                inclusive=p["inclusive"], reset_delay=p["reset_delay"])
            spikes.append(s)
        s = tf.stack(spikes, axis=1)
        return tf.reshape(s, tf.concat([[-1], tf.shape(s)[2:]], axis=0))

    def get_config(self):
        return {**super().get_config(), "timesteps": self.timesteps, **self.params,
                "surrogate": self.surrogate_config}


class MirrorReadout(tf_keras.layers.Layer):
    """``(B*T, ...) -> (B, ...)``: ``sum_t weight_t * x_t`` (`_ops.Readout` weights)."""

    def __init__(self, weights_over_time, **kwargs):
        super().__init__(**kwargs)
        self.weights_over_time = [float(w) for w in weights_over_time]

    def call(self, x):
        x = _unfold(x, len(self.weights_over_time))
        return tf.tensordot(tf.constant(self.weights_over_time, x.dtype), x, axes=[[0], [1]])

    def get_config(self):
        return {**super().get_config(), "weights_over_time": self.weights_over_time}


CUSTOM_OBJECTS = {cls.__name__: cls for cls in
                  (MirrorRepeat, MirrorFold, MirrorNeuron, MirrorReadout)}
"""The mirror's own layers, for tfmot's ``quantize_scope`` and ``clone_model``."""


def _activation(layer):
    return getattr(layer.activation, "__name__", "linear")


def _stateless(layer):
    """The tf_keras twin of a Keras 3 stateless layer (same name), unbuilt."""
    name = layer.name
    if isinstance(layer, keras.layers.Dense):
        return tf_keras.layers.Dense(layer.units, activation=_activation(layer),
                                     use_bias=layer.use_bias, name=name)
    if isinstance(layer, keras.layers.Conv2D):
        return tf_keras.layers.Conv2D(
            layer.filters, layer.kernel_size, strides=layer.strides, padding=layer.padding,
            dilation_rate=layer.dilation_rate, activation=_activation(layer),
            use_bias=layer.use_bias, name=name)
    if isinstance(layer, keras.layers.BatchNormalization):
        return tf_keras.layers.BatchNormalization(
            axis=-1, momentum=layer.momentum, epsilon=layer.epsilon, center=layer.center,
            scale=layer.scale, name=name)
    if isinstance(layer, (keras.layers.AveragePooling2D, keras.layers.MaxPooling2D)):
        kind = type(layer).__name__
        return getattr(tf_keras.layers, kind)(layer.pool_size, strides=layer.strides,
                                              padding=layer.padding, name=name)
    if isinstance(layer, keras.layers.Flatten):
        return tf_keras.layers.Flatten(name=name)
    if isinstance(layer, keras.layers.Reshape):
        return tf_keras.layers.Reshape(layer.target_shape, name=name)
    return tf_keras.layers.ReLU(name=name)  # ReLU or Activation("relu"): checked by the plan


def build_mirror(model, wrap=None):
    """Builds the tf_keras mirror of ``model`` with its current weights.

    Args:
        model: a Keras 3 spiking model that `ExportPlan.from_model` accepts.
        wrap: optional ``(tf_keras_layer, keras3_layer) -> layer`` applied to
            every layer before it is called (tfmot's ``prune_low_magnitude``
            or ``quantize_annotate_layer``); the identity when None.

    Returns:
        ``(mirror, pairs)``: the tf_keras model and the list of
        ``(keras3_layer, tf_keras_layer)`` whose weights are trained.
    """
    plan = ExportPlan.from_model(model)
    wrap = wrap or (lambda twin, original: twin)
    steps = plan.timesteps
    inputs = tf_keras.Input(shape=tuple(model.inputs[0].shape[1:]), name="input")
    x = wrap(MirrorFold(name="fold"), None)(inputs) if plan.time_major else inputs
    pending_repeat, pairs = False, []
    for layer in _chain(model):
        if isinstance(layer, (keras.layers.InputLayer, *_IDENTITY)):
            continue
        if isinstance(layer, RepeatEncoder):
            pending_repeat = True
            continue
        if isinstance(layer, SpikingNeuron):
            if pending_repeat:
                x = wrap(MirrorRepeat(steps, name=f"{layer.name}_repeat"), None)(x)
                pending_repeat = False
            form = _neuron(layer, tuple(x.shape[1:]))
            twin = MirrorNeuron(
                steps, form.beta, form.alpha, form.gamma, form.threshold, form.reset,
                form.v_reset, form.initial, form.inclusive, form.reset_delay,
                layer.detach_reset, surrogates.serialize(layer.surrogate), name=layer.name)
            x = wrap(twin, layer)(x)
            continue
        if isinstance(layer, _READOUTS):
            readout = plan.readout
            x = wrap(MirrorReadout(readout.weights(steps), name=layer.name), layer)(x)
            continue
        inner = layer.layer if isinstance(layer, TimeFolded) else layer
        twin = _stateless(inner)
        x = wrap(twin, inner)(x)
        if isinstance(inner, WEIGHTED):
            pairs.append((inner, twin))
    mirror = tf_keras.Model(inputs, x, name=f"{model.name}_mirror")
    for original, twin in pairs:
        twin.set_weights([np.asarray(w) for w in original.get_weights()])
    return mirror, pairs


def _variables(layer):
    """``{name: variable}`` of a tf_keras layer's weights (``kernel``, ``bias``,
    ``gamma``, ...), through a tfmot wrapper; tfmot's QAT wrapper replaces the
    inner layer's kernel by its fake-quantized tensor and keeps the variable."""
    inner = getattr(layer, "layer", layer)
    found = {}
    for weight in inner.weights:
        found[weight.name.split("/")[-1].split(":")[0]] = weight
    for variable, *_ in getattr(layer, "_weight_vars", ()):
        found[variable.name.split("/")[-1].split(":")[0]] = variable
    return found


def copy_back(pairs, trained):
    """Copies trained weights from ``trained`` into the Keras 3 layers of ``pairs``.

    ``trained`` is the mirror after tfmot (``strip_pruning``'s model, or a
    QAT model); layers are matched by the names `build_mirror` gave them,
    weights by name (``kernel``, ``bias``, ``gamma``, ``moving_mean``, ...)."""
    layers = {getattr(layer, "layer", layer).name: layer for layer in trained.layers}
    for original, twin in pairs:
        variables = _variables(layers[twin.name])
        original.set_weights([variables[weight.name].numpy() for weight in original.weights])


DISTILL_WEIGHT = 0.5
"""Weight of the distillation term in `finetune`'s loss."""

TEMPERATURE = 2.0
"""Softmax temperature of the distillation term."""


def _distill_loss(y_true, y_pred):
    """``(1 - w) * CE(y, s) + w * tau^2 * KL(softmax(t / tau) || softmax(s / tau))``;
    ``y_true`` packs the label and the teacher logits ``t`` as ``[y, t...]``."""
    labels = tf.cast(y_true[:, 0], tf.int32)
    teacher = y_true[:, 1:] / TEMPERATURE
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, y_pred)
    target = tf.nn.softmax(teacher)
    kl = tf.reduce_sum(target * (tf.nn.log_softmax(teacher)
                                 - tf.nn.log_softmax(y_pred / TEMPERATURE)), axis=-1)
    return (1.0 - DISTILL_WEIGHT) * ce + DISTILL_WEIGHT * TEMPERATURE ** 2 * kl


def _accuracy(y_true, y_pred):
    labels = tf.cast(y_true[:, 0], tf.int64)
    return tf.reduce_mean(tf.cast(tf.equal(tf.argmax(y_pred, axis=-1), labels), tf.float32))


def finetune(mirror, x, y, teacher, epochs, batch_size, learning_rate, callbacks=(),
             verbose="auto"):
    """Trains ``mirror`` on labels ``y`` distilled from ``teacher`` logits (`_distill_loss`).

    Returns:
        The tf_keras ``History``.
    """
    mirror.compile(optimizer=tf_keras.optimizers.Adam(learning_rate), loss=_distill_loss,
                   metrics=[_accuracy])
    packed = np.concatenate([np.asarray(y, "float32")[:, None],
                             np.asarray(teacher, "float32")], axis=1)
    return mirror.fit(x, packed, epochs=epochs, batch_size=batch_size,
                      callbacks=list(callbacks), verbose=verbose)
