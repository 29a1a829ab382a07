"""Firing-rate probes: what fraction of neurons fire per time step, per layer."""

import keras
import numpy as np

from keras_snnkd.neurons import SpikingNeuron

__all__ = ["spiking_layers", "spike_output", "spike_probe", "firing_rates"]


def spiking_layers(model):
    """The `SpikingNeuron` layers at the top level of ``model``, in order."""
    return [layer for layer in model.layers if isinstance(layer, SpikingNeuron)]


def spike_output(layer):
    """The symbolic spike tensor of a neuron layer (its first output when it
    also returns the membrane)."""
    return layer.output[0] if layer.return_membrane else layer.output


def spike_probe(model):
    """A `keras.Model` from ``model``'s inputs to the spikes of every top-level
    spiking layer (in `spiking_layers` order), or None when there is none.
    It shares ``model``'s weights: build it once and reuse it."""
    layers = spiking_layers(model)
    if not layers:
        return None
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    return keras.Model(inputs, [spike_output(layer) for layer in layers])


def firing_rates(model, x, batch_size=256, probe=None):
    """Mean firing rate of every top-level spiking layer of ``model`` on ``x``.

    The rate of a layer is its spike count divided by (samples x time steps
    x neurons): the probability that a neuron fires in a step.

    Args:
        model: a built functional or Sequential Keras model.
        x: input batch (numpy array or tensor) the model accepts.
        batch_size: batch size for the forward passes.
        probe: optional `spike_probe(model)` to reuse (saves rebuilding and
            recompiling it on repeated calls).

    Returns:
        dict ``{layer name: rate in [0, 1]}`` in layer order (empty when the
        model has no spiking layer).

    Example:
    >>> import numpy as np
    >>> from keras_snnkd import models, monitor
    >>> model = models.dense_snn(timesteps=2, input_shape=(8, 8, 1), hidden=(16,))
    >>> rates = monitor.firing_rates(model, np.random.rand(4, 8, 8, 1).astype("float32"))
    >>> list(rates) == [layer.name for layer in monitor.spiking_layers(model)]
    True
    """
    layers = spiking_layers(model)
    if not layers:
        return {}
    probe = probe if probe is not None else spike_probe(model)
    spikes = probe.predict(x, batch_size=batch_size, verbose=0)
    spikes = spikes if isinstance(spikes, list) else [spikes]
    return {layer.name: float(np.mean(s)) for layer, s in zip(layers, spikes)}
