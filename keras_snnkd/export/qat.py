"""`quantization_aware_finetune`: fine-tuning with weights on the int8 export grid."""

import keras
from keras import ops

from keras_snnkd.layers import TimeFolded
from keras_snnkd.validation import check_number, check_positive_int


class _FakeQuantKernel:
    """Mixin: the kernel seen by ``call`` is rounded to the int8 grid the TFLite
    converter uses (symmetric, per output channel, ``[-127, 127] * max|w| / 127``);
    gradients pass straight through (``keras.quantizers.fake_quant_with_min_max_vars``)."""

    @property
    def kernel(self):
        kernel = super().kernel
        axes = tuple(range(len(kernel.shape) - 1))
        bound = ops.stop_gradient(ops.maximum(ops.max(ops.abs(kernel), axis=axes), 1e-12))
        return keras.quantizers.fake_quant_with_min_max_vars(
            kernel, -bound, bound, num_bits=8, narrow_range=True, axis=-1)


class _FakeQuantDense(_FakeQuantKernel, keras.layers.Dense):
    pass


class _FakeQuantConv2D(_FakeQuantKernel, keras.layers.Conv2D):
    pass


def _fake_quant_clone(layer):
    if isinstance(layer, TimeFolded):
        config = layer.get_config()
        config.pop("layer")
        return TimeFolded(_fake_quant_clone(layer.layer), **config)
    if type(layer) is keras.layers.Dense:
        return _FakeQuantDense.from_config(layer.get_config())
    if type(layer) is keras.layers.Conv2D:
        return _FakeQuantConv2D.from_config(layer.get_config())
    return layer.__class__.from_config(layer.get_config())


def quantization_aware_finetune(model, x, y, epochs=1, batch_size=64, learning_rate=1e-4,
                                loss=None, verbose="auto"):
    """Fine-tunes ``model`` with its Dense/Conv2D weights fake-quantized to int8.

    A copy of the model whose Dense and Conv2D layers (also inside
    `TimeFolded`) see their kernels rounded to the per-channel int8 grid of
    the TFLite converter is trained with plain ``fit`` (straight-through
    gradients, ``keras.quantizers.fake_quant_with_min_max_vars``: Keras 3's
    own op, so it runs on every backend); the trained float weights are then
    copied back into ``model``. The converter rounds them to the same grid,
    so the exported int8 weights are the ones the fine-tuning saw.
    Membranes and spikes need no fake quantization: `to_tflite` computes
    spikes exactly and calibrates the membrane grids.

    It needs no extra and runs on every backend; ``to_tflite(quantize="qat")``
    is the TensorFlow Model Optimization alternative (kernels, layer outputs
    and the spike-deciding membranes fake-quantized, on a tf_keras mirror).

    Args:
        model: a built Keras model (trained), updated in place.
        x, y: training data and integer labels.
        epochs, batch_size: as in ``fit``.
        learning_rate: Adam learning rate (small: this is fine-tuning).
        loss: a Keras loss; default sparse categorical cross-entropy on logits.
        verbose: passed to ``fit``.

    Returns:
        The ``History`` of the fine-tuning.

    Example:
    >>> import numpy as np
    >>> from keras_snnkd.models import dense_snn
    >>> from keras_snnkd.export import quantization_aware_finetune
    >>> model = dense_snn(timesteps=2, input_shape=(4,), hidden=(8,))
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.random((32, 4)).astype("float32"), rng.integers(0, 10, 32)
    >>> history = quantization_aware_finetune(model, x, y, epochs=1, verbose=0)
    >>> len(history.history["loss"])
    1
    """
    owner = "quantization_aware_finetune"
    if not isinstance(model, keras.Model) or not model.built:
        raise TypeError(f"{owner}: `model` must be a built keras.Model, got {model!r}.")
    check_positive_int(owner, "epochs", epochs)
    check_positive_int(owner, "batch_size", batch_size)
    check_number(owner, "learning_rate", learning_rate, low=0.0)
    clone = keras.models.clone_model(model, clone_function=_fake_quant_clone)
    clone.set_weights(model.get_weights())
    clone.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=loss or keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = clone.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=verbose)
    model.set_weights(clone.get_weights())
    return history
