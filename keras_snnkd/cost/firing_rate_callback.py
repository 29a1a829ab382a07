"""`FiringRateLogger`: per-layer firing rates in the epoch logs during `fit`."""

import keras
import numpy as np

from keras_snnkd import monitor
from keras_snnkd.validation import check_positive_int


class FiringRateLogger(keras.callbacks.Callback):
    """Logs the firing rate of every top-level spiking layer at each epoch end.

    At the end of every epoch the model runs on the fixed probe batch ``x``
    and ``logs[prefix + layer name]`` gets that layer's rate (spikes per
    neuron per step), plus ``logs[prefix + "mean"]``, the rate over all
    neurons. Callbacks that come after this one in the ``callbacks`` list
    (`keras.callbacks.CSVLogger`, `keras.callbacks.TensorBoard`) and the
    returned `History` record them; ``self.history`` keeps them too. Works on
    every backend (it reads weights after the epoch, outside the train step).

    Args:
        x: probe input batch (array) the model accepts.
        prefix: prefix of the log keys.
        batch_size: batch size of the probe forward passes.

    Example:
    >>> import numpy as np, keras
    >>> from keras_snnkd import models
    >>> from keras_snnkd.cost import FiringRateLogger
    >>> model = models.dense_snn(timesteps=2, input_shape=(8, 8, 1), hidden=(16,))
    >>> model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    >>> x, y = np.random.rand(16, 8, 8, 1).astype("float32"), np.zeros(16, "int32")
    >>> history = model.fit(x, y, epochs=2, verbose=0, callbacks=[FiringRateLogger(x[:8])])
    >>> lif = model.layers[3].name  # the one spiking layer
    >>> [k for k in history.history if k.startswith("firing_rate/")] == [
    ...     f"firing_rate/{lif}", "firing_rate/mean"]
    True
    """

    def __init__(self, x, prefix="firing_rate/", batch_size=256):
        super().__init__()
        if not isinstance(prefix, str):
            raise TypeError(f"FiringRateLogger: `prefix` must be a string, got {prefix!r}.")
        self.x = x
        self.prefix = prefix
        self.batch_size = check_positive_int("FiringRateLogger", "batch_size", batch_size)
        self.history = {}
        self._probe = None

    def set_model(self, model):
        super().set_model(model)
        layers = monitor.spiking_layers(model)
        if not layers:
            raise ValueError(
                f"FiringRateLogger: model {model.name!r} has no top-level spiking layer "
                "(keras_snnkd.neurons.SpikingNeuron) to log."
            )
        self._probe = monitor.spike_probe(model)

    def rates(self):
        """``{log key: rate}`` of the model on the probe batch, now."""
        rates = monitor.firing_rates(self.model, self.x, self.batch_size, probe=self._probe)
        sizes = [int(np.prod(monitor.spike_output(layer).shape[2:]))
                 for layer in monitor.spiking_layers(self.model)]
        result = {self.prefix + name: rate for name, rate in rates.items()}
        result[self.prefix + "mean"] = float(
            np.dot(list(rates.values()), sizes) / np.sum(sizes))
        return result

    def on_epoch_end(self, epoch, logs=None):
        rates = self.rates()
        for key, rate in rates.items():
            self.history.setdefault(key, []).append(rate)
        if logs is not None:
            logs.update(rates)
