"""Export plans: what exports, and clear errors for what does not (any backend)."""

import keras
import pytest

from keras_snnkd.export import ExportPlan
from keras_snnkd.layers import MeanOverTime, PoissonEncoder, RepeatEncoder, TimeFolded as F
from keras_snnkd.models import dense_snn, reference_snn
from keras_snnkd.neurons import LIF

L = keras.layers


def test_reference_network_plan():
    plan = ExportPlan.from_model(reference_snn(timesteps=4))
    assert [type(op).__name__ for op in plan.pre] == ["Affine"]
    assert [type(op).__name__ for op in plan.body] == [
        "Neuron", "Pool", "Affine", "Neuron", "Pool", "Reshape", "Affine", "Neuron"]
    assert [type(op).__name__ for op in plan.tail] == ["Affine"]
    assert plan.tail_is_linear and plan.readout.kind == "mean" and plan.timesteps == 4
    assert plan.output_shape == (10,)


def test_timesteps_override_and_functional_chain():
    inputs = keras.Input((4,))
    x = L.Dense(3)(inputs)
    x = RepeatEncoder(2)(x)
    outputs = MeanOverTime()(LIF()(x))
    plan = ExportPlan.from_model(keras.Model(inputs, outputs), timesteps=7)
    assert plan.timesteps == 7


@pytest.mark.parametrize("layers, match", [
    ([keras.Input((4,)), PoissonEncoder(3), LIF(), MeanOverTime()], "PoissonEncoder"),
    ([keras.Input((4,)), L.Dense(3), RepeatEncoder(2), LIF(), F(L.LayerNormalization()),
      MeanOverTime()], "LayerNormalization"),
    ([keras.Input((4,)), L.Dense(3), RepeatEncoder(2), LIF(return_membrane=False),
      F(L.Dense(2, activation="tanh")), MeanOverTime()], "activation 'tanh'"),
    ([keras.Input((4,)), L.Dense(3), RepeatEncoder(2), LIF()], "has no readout"),
])
def test_unsupported_models_name_the_layer(layers, match):
    with pytest.raises(ValueError, match=match):
        ExportPlan.from_model(keras.Sequential(layers))


def test_dynamic_time_length_is_rejected():
    model = keras.Sequential([keras.Input((None, 4)), F(L.Dense(3)), LIF(), MeanOverTime()])
    with pytest.raises(ValueError, match="dynamic time length.*timesteps=T"):
        ExportPlan.from_model(model)
    assert ExportPlan.from_model(model, timesteps=3).input_shape == (3, 4)


def test_membrane_output_and_timesteps_type():
    model = dense_snn(timesteps=2, input_shape=(4,), hidden=(3,))
    with pytest.raises(TypeError, match="`timesteps` must be a positive int"):
        ExportPlan.from_model(model, timesteps=2.5)
    with pytest.raises(TypeError, match="`model` must be a keras.Model"):
        ExportPlan.from_model("model.keras")
