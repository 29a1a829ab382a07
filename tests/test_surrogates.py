import numpy as np
import pytest
from keras import ops

from keras_snnkd import surrogates
from keras_snnkd.backend import value_and_grad

from conftest import to_numpy

NAMES = ["arctan", "sigmoid", "fast_sigmoid", "triangle", "straight_through"]
X = np.linspace(-3, 3, 601).astype("float32")


def spike_grad(surrogate, x, upstream, inclusive=False):
    return value_and_grad(lambda x: ops.sum(ops.multiply(surrogate(x, inclusive=inclusive), upstream)),
                          [x])[1][0]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("alpha", [None, 0.5, 3.0])
def test_backward_is_the_analytic_derivative(name, alpha):
    s = surrogates.get(name, alpha=alpha)
    upstream = np.random.default_rng(1).normal(size=X.shape).astype("float32")
    grad = spike_grad(s, X, upstream)
    np.testing.assert_allclose(grad, upstream * to_numpy(s.derivative(X)), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("alpha", [None, 0.5, 3.0])
def test_derivative_matches_finite_differences_of_primitive(name, alpha):
    s = surrogates.get(name, alpha=alpha)
    x = np.linspace(-2.5, 2.5, 501).astype("float32")
    # central differences in float32; skip the kinks (0 and +-1/alpha)
    kinks = np.array([-1.0, 0.0, 1.0]) / s.alpha
    x = x[np.min(np.abs(x[:, None] - kinks[None]), axis=1) > 0.02]
    eps = 1e-3
    x = ops.convert_to_tensor(x)
    numeric = (to_numpy(s.primitive(x + eps)) - to_numpy(s.primitive(x - eps))) / (2 * eps)
    np.testing.assert_allclose(to_numpy(s.derivative(x)), numeric, rtol=1e-2, atol=2e-3)


@pytest.mark.parametrize("name", NAMES)
def test_forward_is_heaviside(name):
    s = surrogates.get(name)
    x = np.array([-1.0, -1e-7, 0.0, 1e-7, 2.0], "float32")
    assert to_numpy(s(x)).tolist() == [0, 0, 0, 1, 1]
    assert to_numpy(s(x, inclusive=True)).tolist() == [0, 0, 1, 1, 1]
    assert to_numpy(s(x)).dtype == np.float32


def test_infinite_inputs_spike_as_any_other_and_get_no_gradient():
    s = surrogates.get("arctan")
    x = np.array([np.inf, -np.inf, 1.0, -1.0], "float32")
    weights = np.array([1.0, 10.0, 100.0, 1000.0], "float32")
    value, (grad,) = value_and_grad(lambda x: ops.sum(ops.multiply(s(x), weights)), [x])
    assert float(value) == 101.0
    np.testing.assert_allclose(grad, weights * [0, 0, *to_numpy(s.derivative(x[2:]))], rtol=1e-6)


def test_user_defined_surrogates():
    rect = surrogates.get(lambda x: ops.cast(ops.abs(x) < 0.5, x.dtype))
    grad = spike_grad(rect, X, np.ones_like(X))
    np.testing.assert_array_equal(grad, (np.abs(X) < 0.5).astype("float32"))

    class Gaussian(surrogates.Surrogate):
        default_alpha = 2.0

        def derivative(self, x):
            return self.alpha * ops.exp(-ops.square(self.alpha * x))

    g = Gaussian()
    np.testing.assert_allclose(spike_grad(g, X, np.ones_like(X)),
                               2.0 * np.exp(-(2.0 * X) ** 2), rtol=1e-6)
    with pytest.raises(TypeError, match="cannot be serialized"):
        rect.get_config()


def test_get_and_serialization():
    assert surrogates.get("atan") == surrogates.ArcTan()
    assert surrogates.get("sigmoid", alpha=10).alpha == 10.0
    s = surrogates.Triangle(0.7)
    assert surrogates.deserialize(surrogates.serialize(s)) == s
    assert surrogates.get(surrogates.serialize(s)) == s


@pytest.mark.parametrize("bad, error, match", [
    ("relu", ValueError, "Unknown surrogate 'relu'. Known names: .*arctan"),
    (3, TypeError, "must be a name"),
])
def test_get_rejects_unknown(bad, error, match):
    with pytest.raises(error, match=match):
        surrogates.get(bad)


@pytest.mark.parametrize("alpha, error", [(0.0, ValueError), (-1.0, ValueError),
                                          (float("nan"), ValueError), ("2", TypeError)])
def test_alpha_is_validated(alpha, error):
    with pytest.raises(error, match="`alpha`"):
        surrogates.ArcTan(alpha)
