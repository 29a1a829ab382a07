"""Training callbacks that are not about spikes."""

import keras

from keras_snnkd import backend

__all__ = ["CompileOnce"]


class CompileOnce(keras.callbacks.Callback):
    """Makes a compiled PyTorch training step compile once in `fit`, not twice.

    A training step on PyTorch that calls ``zero_grad()`` inside the compiled
    code compiles twice: at the first call no weight has a gradient yet, at
    the second they all have the ones the first left, and ``torch.compile``
    guards on that. ``import keras_snnkd`` already keeps Keras's own
    ``train_step`` out of the compiled frames, which avoids it
    (`keras_snnkd.backend.torch_compile`). This callback is for a process that
    opts out of that setting (``KERAS_SNNKD_TORCH_COMPILE_FRAME=0``, where Keras's
    step compiles again at the second batch: 38 s at T = 4 and 84 s at T = 32
    for the reference network on the docs' 2-core CPU) and for a ``train_step``
    of your own that calls ``zero_grad()``. It drops the gradients before every
    batch, so each call finds the weights as the first did. The step's own
    ``zero_grad()`` would have cleared them anyway, so training is unchanged.
    On TensorFlow and JAX, which keep no gradients on the weights, it does
    nothing.

    It acts in `fit` only: for ``train_on_batch`` or a loop of your own, call
    `keras_snnkd.backend.clear_gradients(model.trainable_variables)` before
    each step.

    Example:
    >>> import keras
    >>> import numpy as np
    >>> from keras_snnkd.callbacks import CompileOnce
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> model.compile("sgd", "mse")
    >>> x, y = np.ones((8, 4), "float32"), np.zeros((8, 2), "float32")
    >>> history = model.fit(x, y, batch_size=4, callbacks=[CompileOnce()], verbose=0)
    >>> len(history.history["loss"])
    1
    """

    def on_train_batch_begin(self, batch, logs=None):
        backend.clear_gradients(self.model.trainable_variables)
