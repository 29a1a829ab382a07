"""Encoders, readouts and time folding for spiking models.

Encoders map ``(batch, ...)`` to ``(batch, T, ...)``: `RepeatEncoder` (direct),
`PoissonEncoder` (rate), `LatencyEncoder` (time to first spike).
Readouts map ``(batch, T, ...)`` to ``(batch, ...)``: `MeanOverTime`,
`SpikeCount`, `LastMembrane`. `TimeFolded` runs any stateless Keras layer on
``(batch * T, ...)``. `StepReLU` is the ANN activation that converts to an IF
neuron exactly.
"""

from keras_snnkd.layers.last_membrane import LastMembrane
from keras_snnkd.layers.latency_encoder import LatencyEncoder
from keras_snnkd.layers.mean_over_time import MeanOverTime
from keras_snnkd.layers.poisson_encoder import PoissonEncoder
from keras_snnkd.layers.repeat_encoder import RepeatEncoder
from keras_snnkd.layers.spike_count import SpikeCount
from keras_snnkd.layers.step_relu import StepReLU
from keras_snnkd.layers.time_folded import TimeFolded
from keras_snnkd.layers.timesteps import infer_timesteps

__all__ = [
    "RepeatEncoder",
    "PoissonEncoder",
    "LatencyEncoder",
    "MeanOverTime",
    "SpikeCount",
    "LastMembrane",
    "TimeFolded",
    "StepReLU",
    "infer_timesteps",
]
