"""keras_snnkd: spiking neural networks in Keras 3, trained by distillation,
exported to the edge. Runs on TensorFlow, JAX and PyTorch (``KERAS_BACKEND``).

Subpackages load on first use, so ``import keras_snnkd`` does not import Keras
(the command line picks the backend before Keras starts):

- `keras_snnkd.neurons`: IF, LIF, ParametricLIF layers.
- `keras_snnkd.surrogates`: Heaviside spikes with surrogate gradients.
- `keras_snnkd.layers`: encoders, readouts, time folding.
- `keras_snnkd.models`: the reference networks.
- `keras_snnkd.datasets`: offline datasets.
- `keras_snnkd.monitor`: firing-rate probes.
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = ("datasets", "layers", "models", "monitor", "neurons", "surrogates")

__all__ = [*_SUBMODULES, "__version__"]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"keras_snnkd.{name}")
    raise AttributeError(f"module 'keras_snnkd' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
