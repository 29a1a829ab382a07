"""The static graph reproduces every supported neuron and layer form (TensorFlow run)."""

import keras
import numpy as np
import pytest

from conftest import BACKEND

EXTRA = "export needs the export extra: pip install 'keras_snnkd[export]'"
pytest.importorskip("tensorflow", reason=EXTRA)
if BACKEND != "tensorflow":
    pytest.skip("the static graph is TensorFlow; traced in the TensorFlow-backend run",
                allow_module_level=True)

from keras_snnkd.export import ExportPlan, StaticGraph  # noqa: E402
from keras_snnkd.layers import (  # noqa: E402
    LastMembrane, MeanOverTime, RepeatEncoder, SpikeCount, TimeFolded as F)
from keras_snnkd.neurons import IF, LIF, ParametricLIF  # noqa: E402

L = keras.layers


def _dense(neuron, readout=MeanOverTime, steps=5, extra=()):
    return keras.Sequential([keras.Input((6,)), L.Dense(16), RepeatEncoder(steps), neuron,
                             *extra, F(L.Dense(4)), readout()])


CASES = {
    "lif_soft": lambda: _dense(LIF(beta=0.8)),
    "lif_hard_vreset": lambda: _dense(LIF(beta=0.7, reset="zero", v_reset=-0.3)),
    "lif_no_reset": lambda: _dense(LIF(beta=0.5, reset="none")),
    "lif_tau_decay_input": lambda: _dense(LIF.from_spikingjelly(tau=2.0, v_reset=None)),
    "lif_snntorch_subtract": lambda: _dense(LIF.from_snntorch(beta=0.9)),
    "lif_snntorch_zero": lambda: _dense(LIF.from_snntorch(beta=0.9, reset_mechanism="zero")),
    "if_soft": lambda: _dense(IF(threshold=0.7)),
    "plif": lambda: _dense(ParametricLIF(init_tau=3.0)),
    "spike_count": lambda: _dense(LIF(), readout=SpikeCount),
    "last_membrane": lambda: _dense(LIF(), readout=lambda: LastMembrane(beta=0.8)),
    "two_layers": lambda: _dense(LIF(), extra=(F(L.Dense(12)), IF())),
    "initial_membrane": lambda: _dense(IF(initial_membrane=0.5)),
}


def _data(model, n=64):
    x = np.random.default_rng(1).normal(size=(n, *model.inputs[0].shape[1:])).astype("float32")
    return 2.0 * x


@pytest.mark.parametrize("case", sorted(CASES))
def test_float_graph_matches_keras(case):
    keras.utils.set_random_seed(0)
    model = CASES[case]()
    x = _data(model)
    graph = StaticGraph(ExportPlan.from_model(model))
    np.testing.assert_allclose(graph.float_function()(x).numpy(), model.predict(x, verbose=0),
                               atol=1e-4)


def test_conv_model_with_batch_norm_max_pool_and_time_major_input():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((3, 8, 8, 2)), F(L.Conv2D(4, 3, padding="same")), F(L.BatchNormalization()),
        LIF(), F(L.MaxPooling2D(2)), F(L.Conv2D(6, 3, strides=2, padding="same")), IF(),
        F(L.MaxPooling2D(2)), F(L.Flatten()), F(L.Dense(3)), MeanOverTime()])
    bn = model.layers[1].layer
    bn.set_weights([w + np.random.default_rng(2).random(w.shape).astype("float32")
                    for w in bn.get_weights()])
    x = _data(model)
    graph = StaticGraph(ExportPlan.from_model(model))
    np.testing.assert_allclose(graph.float_function()(x).numpy(), model.predict(x, verbose=0),
                               atol=1e-4)


@pytest.mark.parametrize("case", ["lif_soft", "lif_hard_vreset", "two_layers"])
def test_int8_form_tracks_float(case):
    """The fake-quantized graph (what the int8 TFLite computes) stays close to float."""
    keras.utils.set_random_seed(0)
    model = CASES[case]()
    x = _data(model, 128)
    graph = StaticGraph(ExportPlan.from_model(model)).calibrate(x)
    quantized = graph.int8_function()(x).numpy()
    reference = model.predict(x, verbose=0)
    assert np.mean(quantized.argmax(1) == reference.argmax(1)) >= 0.95
    for form in graph.forms:
        unit_steps = form.unit / form.grid.scale
        assert abs(unit_steps - round(unit_steps)) < 1e-6  # the reset is exact on the grid
