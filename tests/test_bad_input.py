"""Bad input raises a clear error naming the argument."""

import keras
import numpy as np
import pytest

from keras_snnkd import layers, neurons

NEURONS = [neurons.IF, neurons.LIF, neurons.ParametricLIF]


@pytest.mark.parametrize("cls", NEURONS)
@pytest.mark.parametrize("shape", [(4,), (8, 5)])
def test_missing_time_axis(cls, shape):
    with pytest.raises(ValueError, match=r"`inputs` must have shape \(batch, time, \.\.\.features\)"):
        cls()(np.zeros(shape, "float32"))
    with pytest.raises(ValueError, match="rank >= 3"):
        cls()(keras.Input(shape[1:]))


@pytest.mark.parametrize("cls", NEURONS)
def test_empty_time_axis(cls):
    with pytest.raises(ValueError, match="time axis .* has length 0"):
        cls()(np.zeros((2, 0, 3), "float32"))


@pytest.mark.parametrize("cls", NEURONS)
@pytest.mark.parametrize("dtype", ["int32", "bool"])
def test_non_float_inputs(cls, dtype):
    with pytest.raises(TypeError, match="`inputs` must have a floating-point dtype.*" + dtype):
        cls()(np.zeros((2, 3, 4), dtype))
    with pytest.raises(TypeError, match="floating-point"):
        cls()(keras.Input((3, 4), dtype=dtype))


@pytest.mark.parametrize("kwargs, error, match", [
    ({"threshold": 0.0}, ValueError, "`threshold` must be > 0"),
    ({"threshold": -1.0}, ValueError, "`threshold` must be > 0"),
    ({"threshold": "1"}, TypeError, "`threshold` must be a number"),
    ({"threshold": float("inf")}, ValueError, "`threshold` must be finite"),
    ({"reset": "hard"}, ValueError, "`reset` must be one of 'subtract', 'zero', 'none'"),
    ({"v_reset": 0.5}, ValueError, "`v_reset` applies only to reset='zero'"),
    ({"reset": "zero", "v_reset": 1.0}, ValueError, "`v_reset` must be below `threshold`"),
    ({"surrogate": "relu"}, ValueError, "Unknown surrogate 'relu'"),
    ({"detach_reset": 1}, TypeError, "`detach_reset` must be a bool"),
    ({"unroll": "yes"}, TypeError, "`unroll` must be None or a bool"),
])
def test_neuron_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        neurons.LIF(**kwargs)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"tau": 0.0}, ValueError, "`tau` must be >= 1"),
    ({"tau": -2.0}, ValueError, "`tau` must be >= 1"),
    ({"beta": 1.5}, ValueError, "`beta` must be <= 1"),
    ({"beta": -0.1}, ValueError, "`beta` must be >= 0"),
    ({"beta": 0.5, "tau": 2.0}, ValueError, "either `beta` or `tau`, not both"),
    ({"decay_input": "no"}, TypeError, "`decay_input` must be a bool"),
])
def test_lif_leak_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        neurons.LIF(**kwargs)


def test_parametric_lif_tau_and_presets():
    with pytest.raises(ValueError, match="`init_tau` must be > 1"):
        neurons.ParametricLIF(init_tau=1.0)
    with pytest.raises(ValueError, match="`init_tau` must be > 1"):
        neurons.ParametricLIF(init_tau=-3.0)
    with pytest.raises(ValueError, match="only snnTorch's default `reset_delay=True`"):
        neurons.LIF.from_snntorch(beta=0.9, reset_delay=False)
    with pytest.raises(ValueError, match="`tau` must be >= 1"):
        neurons.LIF.from_spikingjelly(tau=0.5)


def test_unroll_needs_static_time():
    model_input = keras.Input((None, 3))
    with pytest.raises(ValueError, match="`unroll=True` needs a static number of time steps"):
        neurons.LIF(unroll=True).call(model_input)


@pytest.mark.parametrize("cls", [layers.RepeatEncoder, layers.PoissonEncoder,
                                 layers.LatencyEncoder])
@pytest.mark.parametrize("timesteps, error", [(0, ValueError), (-3, ValueError),
                                              (2.0, TypeError), (True, TypeError),
                                              (None, TypeError)])
def test_encoder_timesteps(cls, timesteps, error):
    with pytest.raises(error, match="`timesteps`"):
        cls(timesteps)


def test_encoder_arguments():
    with pytest.raises(ValueError, match="`gain` must be > 0"):
        layers.PoissonEncoder(4, gain=0.0)
    with pytest.raises(TypeError, match="`seed` must be an int"):
        layers.PoissonEncoder(4, seed="a")
    with pytest.raises(ValueError, match="`threshold` must be < 1"):
        layers.LatencyEncoder(4, threshold=1.0)
    with pytest.raises(TypeError, match="floating-point"):
        layers.PoissonEncoder(4)(np.zeros((2, 3), "int32"))


def test_readout_and_folding_need_a_time_axis():
    for layer in [layers.MeanOverTime(), layers.SpikeCount(), layers.LastMembrane(),
                  layers.TimeFolded(keras.layers.Dense(2))]:
        with pytest.raises(ValueError, match="rank >= 3"):
            layer(keras.Input((5,)))
    with pytest.raises(TypeError, match="`layer` must be a keras.layers.Layer"):
        layers.TimeFolded("dense")
    with pytest.raises(ValueError, match="`fold_steps` must be >= 1, got 0"):
        layers.TimeFolded(keras.layers.Dense(2), fold_steps=0)
    with pytest.raises(TypeError, match="`fold_steps` must be a positive int, got 2.0"):
        layers.TimeFolded(keras.layers.Dense(2), fold_steps=2.0)
    with pytest.raises(ValueError, match='`fold_steps` must be a positive int, None or "auto"'):
        layers.TimeFolded(keras.layers.Dense(2), fold_steps="four")
    with pytest.raises(ValueError, match="`beta` must be <= 1"):
        layers.LastMembrane(beta=2.0)
