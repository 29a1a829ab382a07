"""Spike-aware cost estimation: operations, memory traffic and energy per
inference, measured on real input, against the ANN twin or a teacher.

- `estimate(model, x, profile, ann)` runs the model and returns a `CostReport`
  (per-layer MACs, spike-triggered ACs, adds, neuron updates, weight and
  membrane accesses, firing rates; energy; ratio to the reference).
- `profiles`: energy profiles shipped as JSON data (``profiles.available()``),
  or your own file; `EnergyProfile` is their schema.
- `plots`: per-layer energy bars, firing rates, spike rasters (matplotlib).
- `FiringRateLogger`: a callback that logs per-layer firing rates each epoch.
- `FiringRateRegularizer`: an activity regularizer that pushes rates down.
"""

from keras_snnkd.cost import profiles
from keras_snnkd.cost.energy_profile import EnergyProfile
from keras_snnkd.cost.estimate import estimate
from keras_snnkd.cost.firing_rate_callback import FiringRateLogger
from keras_snnkd.cost.firing_rate_regularizer import FiringRateRegularizer
from keras_snnkd.cost.report import CostReport

__all__ = ["estimate", "CostReport", "EnergyProfile", "profiles", "FiringRateLogger",
           "FiringRateRegularizer"]
