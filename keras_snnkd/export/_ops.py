"""The operations of an `keras_snnkd.export.ExportPlan`, with numpy weights.

Shapes never include the batch axis. Kernels keep the Keras layout
(Dense ``(in, out)``, Conv2D ``(kh, kw, in, out)``), images are channels-last.
"""

import dataclasses

import numpy as np


@dataclasses.dataclass
class Affine:
    """Dense or Conv2D (BatchNormalization already folded in):
    ``y = act(x @ kernel + bias)`` or ``y = act(conv(x, kernel) + bias)``."""

    name: str
    kind: str  # "dense" | "conv"
    kernel: np.ndarray
    bias: np.ndarray
    input_shape: tuple
    output_shape: tuple
    strides: tuple = (1, 1)
    padding: str = "valid"  # "valid" | "same"
    dilation: tuple = (1, 1)
    relu: bool = False

    def scaled(self, weight_scale, bias_scale=1.0, bias_shift=0.0):
        """A copy computing ``weight_scale * (x @ W) + bias_scale * b + bias_shift``."""
        kernel = self.kernel if weight_scale == 1.0 else self.kernel * weight_scale
        return dataclasses.replace(
            self,
            kernel=kernel.astype("float32", copy=False),
            bias=(self.bias * bias_scale + bias_shift).astype("float32"),
        )


@dataclasses.dataclass
class Pool:
    """AveragePooling2D or MaxPooling2D (channels-last)."""

    name: str
    kind: str  # "avg" | "max"
    size: tuple
    strides: tuple
    padding: str
    input_shape: tuple
    output_shape: tuple

    @property
    def area(self):
        return int(np.prod(self.size))


@dataclasses.dataclass
class Reshape:
    """Flatten or Reshape: row-major (channels-last) reshape to ``output_shape``."""

    name: str
    input_shape: tuple
    output_shape: tuple


@dataclasses.dataclass
class Relu:
    """A standalone ReLU."""

    name: str
    input_shape: tuple
    output_shape: tuple


@dataclasses.dataclass
class Neuron:
    """A spiking neuron layer in the normal form used by every exporter.

    Per step, from ``v_{-1} = initial`` (the resting potential unless the
    neuron sets ``initial_membrane``)::

        h_t = beta * v_{t-1} + alpha * x_t + gamma        (charge)
        s_t = H(h_t - threshold)                           (fire; ">=" if inclusive)
        v_t = h_t - s_t * threshold                        (reset="subtract")
            = s_t * v_reset + (1 - s_t) * h_t              (reset="zero")
            = h_t                                          (reset="none")

    ``reset_delay`` is snnTorch's order (see `keras_snnkd.neurons.dynamics`).
    """

    name: str
    kind: str  # class name: "LIF", "IF", "ParametricLIF"
    beta: float
    alpha: float
    gamma: float
    threshold: float
    reset: str
    v_reset: float
    rest: float
    initial: float
    inclusive: bool
    reset_delay: bool
    shape: tuple

    @property
    def input_shape(self):
        return self.shape

    @property
    def output_shape(self):
        return self.shape


@dataclasses.dataclass
class Readout:
    """How the per-step outputs become the model output:
    ``y = sum_t weight_t * x_t`` with ``weight_t = scale * decay ** (T - 1 - t)``
    (MeanOverTime: scale 1/T, decay 1; SpikeCount: 1, 1; LastMembrane: 1, beta)."""

    name: str
    kind: str  # "mean" | "sum" | "membrane"
    scale: float
    decay: float

    def weights(self, timesteps):
        """The weight of each step, as a list of floats."""
        return [self.scale * self.decay ** (timesteps - 1 - t) for t in range(timesteps)]


def is_linear(op):
    """True for ops that commute with sums over time (affine ones are handled
    separately: they are linear up to their bias)."""
    if isinstance(op, Affine):
        return not op.relu
    if isinstance(op, Pool):
        return op.kind == "avg"
    return isinstance(op, Reshape)
