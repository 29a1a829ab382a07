"""Spiking neuron layers over ``(batch, time, ...features)`` tensors.

- `IF`: integrate-and-fire.
- `LIF`: leaky integrate-and-fire (``beta`` or ``tau``), with presets
  `LIF.from_snntorch` and `LIF.from_spikingjelly`.
- `ParametricLIF`: LIF with a learned time constant.

Dynamics shared by all of them are in `keras_snnkd.neurons.dynamics`.
"""

from keras_snnkd.neurons.base import SpikingNeuron
from keras_snnkd.neurons.integrate_and_fire import IF
from keras_snnkd.neurons.leaky_integrate_and_fire import LIF
from keras_snnkd.neurons.parametric_lif import ParametricLIF

__all__ = ["SpikingNeuron", "IF", "LIF", "ParametricLIF"]
