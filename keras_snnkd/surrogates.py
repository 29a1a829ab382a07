"""Spike functions: a Heaviside forward pass with a surrogate backward pass.

A spiking neuron emits ``s = H(x)`` where ``x = v - threshold``. The Heaviside
step ``H`` has a zero derivative almost everywhere, so training replaces its
derivative in the backward pass by the derivative of a smooth *primitive*
``g(x)`` (Neftci et al., 2019). Every surrogate below defines:

- ``primitive(x)``: the smooth function ``g`` that stands in for ``H``;
- ``derivative(x)``: its analytic derivative ``g'(x)``, used as the gradient;
- ``__call__(x, inclusive=False)``: the spike ``H(x)`` (``x > 0``, or ``x >= 0``
  when ``inclusive``) whose gradient is ``upstream * g'(x)``.

The family and its defaults follow SpikingJelly and snnTorch:

| name             | ``g'(x)``                                  | default ``alpha`` | peer            |
|------------------|--------------------------------------------|-------------------|-----------------|
| ``arctan``       | ``alpha/2 / (1 + (pi/2 * alpha * x)^2)``   | 2.0               | SJ ``ATan``, snnTorch ``atan`` |
| ``sigmoid``      | ``alpha * sig(alpha x) * (1 - sig(alpha x))`` | 4.0            | SJ ``Sigmoid``, snnTorch ``sigmoid`` |
| ``fast_sigmoid`` | ``1 / (1 + alpha * abs(x))^2``             | 25.0              | snnTorch ``fast_sigmoid`` |
| ``triangle``     | ``alpha * max(0, 1 - alpha * abs(x))``     | 1.0               | SJ ``PiecewiseQuadratic`` |
| ``straight_through`` | ``alpha``                              | 1.0               | snnTorch ``straight_through_estimator`` |

User-defined surrogates subclass `Surrogate`, implement ``derivative`` (and
``primitive`` if they want it checked numerically) and register themselves with
``keras.saving.register_keras_serializable``. A plain callable ``x -> g'(x)``
is accepted by `get` too (wrapped in `FunctionSurrogate`).
"""

import math

import keras
from keras import ops

__all__ = [
    "Surrogate",
    "ArcTan",
    "Sigmoid",
    "FastSigmoid",
    "Triangle",
    "StraightThrough",
    "FunctionSurrogate",
    "get",
    "serialize",
    "deserialize",
]

_PACKAGE = "keras_snnkd"


class Surrogate:
    """Base class: Heaviside spike forward, ``alpha``-parameterised backward.

    Args:
        alpha: positive float, the slope/sharpness of the surrogate.

    Example:
    >>> import numpy as np, keras
    >>> from keras_snnkd import surrogates
    >>> spike = surrogates.get("arctan")
    >>> keras.ops.convert_to_numpy(spike(np.array([-0.5, 0.0, 0.5], "float32"))).tolist()
    [0.0, 0.0, 1.0]
    """

    default_alpha = 1.0

    def __init__(self, alpha=None):
        alpha = self.default_alpha if alpha is None else alpha
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)):
            raise TypeError(
                f"{type(self).__name__}: `alpha` must be a positive float, "
                f"got {alpha!r} of type {type(alpha).__name__}."
            )
        if not math.isfinite(alpha) or alpha <= 0:
            raise ValueError(
                f"{type(self).__name__}: `alpha` must be a positive finite "
                f"float, got {alpha!r}."
            )
        self.alpha = float(alpha)

    def derivative(self, x):
        """The surrogate gradient ``g'(x)`` (``keras.ops`` only)."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement `derivative(x)`."
        )

    def primitive(self, x):
        """The smooth function ``g(x)`` whose derivative is the surrogate."""
        raise NotImplementedError(
            f"{type(self).__name__} does not define `primitive(x)`."
        )

    def __call__(self, x, inclusive=False):
        """Spikes ``H(x)`` in ``x``'s dtype, with gradient ``g'(x)``.

        Args:
            x: float tensor, the membrane potential minus the threshold.
            inclusive: if True fire on ``x >= 0`` (SpikingJelly), else on
                ``x > 0`` (snnTorch and this library's default).

        Returns:
            A tensor of 0/1 values with ``x``'s shape and dtype.
        """
        derivative = self.derivative

        @ops.custom_gradient
        def heaviside(x):
            fired = ops.greater_equal(x, 0) if inclusive else ops.greater(x, 0)

            def grad(*args, upstream=None):
                # TF and JAX pass the upstream gradient positionally, the
                # PyTorch backend by keyword: this form serves all three.
                upstream = args[0] if upstream is None else upstream
                return upstream * ops.cast(derivative(x), upstream.dtype)

            return ops.cast(fired, x.dtype), grad

        return heaviside(x)

    def get_config(self):
        return {"alpha": self.alpha}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}(alpha={self.alpha})"

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash((type(self).__name__, self.alpha))


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ArcTan(Surrogate):
    """Arc-tangent surrogate (Fang et al., 2021).

    ``g(x) = arctan(pi/2 * alpha * x) / pi + 1/2``,
    ``g'(x) = alpha/2 / (1 + (pi/2 * alpha * x)^2)``.
    """

    default_alpha = 2.0

    def primitive(self, x):
        return ops.arctan(math.pi / 2 * self.alpha * x) / math.pi + 0.5

    def derivative(self, x):
        return self.alpha / 2 / (1 + ops.square(math.pi / 2 * self.alpha * x))


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Sigmoid(Surrogate):
    """Logistic surrogate.

    ``g(x) = sigmoid(alpha * x)``, ``g'(x) = alpha * g(x) * (1 - g(x))``.
    """

    default_alpha = 4.0

    def primitive(self, x):
        return ops.sigmoid(self.alpha * x)

    def derivative(self, x):
        # sig(z) * sig(-z) == sig(z) * (1 - sig(z)) without the cancellation
        # of 1 - sig(z) in the tails
        z = self.alpha * x
        return self.alpha * ops.sigmoid(z) * ops.sigmoid(-z)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class FastSigmoid(Surrogate):
    """Fast sigmoid / SuperSpike surrogate (Zenke & Ganguli, 2018).

    ``g(x) = x / (1 + alpha * |x|)``, ``g'(x) = 1 / (1 + alpha * |x|)^2``.
    """

    default_alpha = 25.0

    def primitive(self, x):
        return x / (1 + self.alpha * ops.abs(x))

    def derivative(self, x):
        return 1 / ops.square(self.alpha * ops.abs(x) + 1)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Triangle(Surrogate):
    """Triangular surrogate (piecewise quadratic primitive, Esser et al., 2016).

    ``g'(x) = alpha * max(0, 1 - alpha * |x|)``: a triangle of height ``alpha``
    and half-width ``1/alpha``; ``g`` rises from 0 to 1 over that window.
    """

    default_alpha = 1.0

    def primitive(self, x):
        a = self.alpha
        inner = -0.5 * a * a * ops.multiply(x, ops.abs(x)) + a * x + 0.5
        return ops.where(
            x > 1 / a, ops.ones_like(x), ops.where(x < -1 / a, ops.zeros_like(x), inner)
        )

    def derivative(self, x):
        return self.alpha * ops.relu(1 - self.alpha * ops.abs(x))


@keras.saving.register_keras_serializable(package=_PACKAGE)
class StraightThrough(Surrogate):
    """Straight-through estimator: ``g(x) = alpha * x``, ``g'(x) = alpha``."""

    default_alpha = 1.0

    def primitive(self, x):
        return self.alpha * x

    def derivative(self, x):
        return self.alpha * ops.ones_like(x)


class FunctionSurrogate(Surrogate):
    """Wraps a user callable ``derivative(x)`` as a surrogate.

    Not serializable (a Python function has no config): for models that are
    saved, subclass `Surrogate` and register it instead.

    Args:
        fn: callable mapping a tensor ``x`` to ``g'(x)`` with ``keras.ops``.
    """

    def __init__(self, fn):
        if not callable(fn):
            raise TypeError(f"FunctionSurrogate: `fn` must be callable, got {fn!r}.")
        super().__init__(1.0)
        self.fn = fn

    def derivative(self, x):
        return self.fn(x)

    def get_config(self):
        raise TypeError(
            "FunctionSurrogate wraps a plain Python function and cannot be "
            "serialized; subclass keras_snnkd.surrogates.Surrogate and register "
            "it with keras.saving.register_keras_serializable instead."
        )

    def __repr__(self):
        return f"FunctionSurrogate({getattr(self.fn, '__name__', self.fn)!r})"

    def __eq__(self, other):
        return isinstance(other, FunctionSurrogate) and other.fn is self.fn

    def __hash__(self):
        return hash(self.fn)


_BY_NAME = {
    "arctan": ArcTan,
    "atan": ArcTan,
    "sigmoid": Sigmoid,
    "fast_sigmoid": FastSigmoid,
    "superspike": FastSigmoid,
    "triangle": Triangle,
    "piecewise_quadratic": Triangle,
    "straight_through": StraightThrough,
    "ste": StraightThrough,
}


def serialize(surrogate):
    """Returns a Keras-serializable dict for a `Surrogate`."""
    return keras.saving.serialize_keras_object(surrogate)


def deserialize(config):
    """Inverse of `serialize`."""
    return keras.saving.deserialize_keras_object(config)


def get(identifier, alpha=None):
    """Returns a `Surrogate` from a name, config dict, instance or callable.

    Args:
        identifier: one of the names ``"arctan"`` (alias ``"atan"``),
            ``"sigmoid"``, ``"fast_sigmoid"`` (``"superspike"``),
            ``"triangle"`` (``"piecewise_quadratic"``), ``"straight_through"``
            (``"ste"``); a dict produced by `serialize`; a `Surrogate`
            instance (returned as is); or a callable ``x -> g'(x)``.
        alpha: slope for a surrogate given by name (its default otherwise).

    Returns:
        A `Surrogate` instance.

    Example:
    >>> from keras_snnkd import surrogates
    >>> surrogates.get("sigmoid", alpha=10.0)
    Sigmoid(alpha=10.0)
    """
    if isinstance(identifier, Surrogate):
        if alpha is not None:
            raise ValueError(
                "surrogates.get: `alpha` applies only to a surrogate given by "
                f"name; got an instance {identifier!r} and alpha={alpha!r}."
            )
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in _BY_NAME:
            raise ValueError(
                f"Unknown surrogate {identifier!r}. Known names: "
                f"{', '.join(sorted(_BY_NAME))}."
            )
        return _BY_NAME[key](alpha)
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if callable(identifier):
        return FunctionSurrogate(identifier)
    raise TypeError(
        "`surrogate` must be a name, a Surrogate instance, a config dict or a "
        f"callable; got {identifier!r} of type {type(identifier).__name__}."
    )
