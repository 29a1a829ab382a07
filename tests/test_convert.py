"""ANN -> SNN conversion: exactness on tiny models, BatchNorm folding, calibration,
leak, serialization, no mutation of the ANN, and clear errors."""

import importlib
import json
import os

import keras
import numpy as np
import pytest

from keras_snnkd.convert import (
    ann_to_snn,
    calibrate_thresholds,
    fold_batch_norm,
    layer_chain,
    nonlinearity_of,
)
from keras_snnkd.datasets import load_digits
from keras_snnkd.layers import MeanOverTime, StepReLU, TimeFolded
from keras_snnkd.neurons import IF, LIF

from conftest import ROOT, to_numpy

L = keras.layers


def randomize(model, seed=0):
    """Non-trivial weights; BatchNorm statistics with positive variances; StepReLU
    thresholds left as built."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        for weight in layer.weights:
            if weight.name == "threshold":
                continue
            values = rng.normal(0, 0.5, size=weight.shape)
            if "variance" in weight.name:
                values = rng.uniform(0.5, 2.0, size=weight.shape)
            weight.assign(values.astype("float32"))
    return model


def dense_ann(levels=4, threshold=1.5, head=None):
    return randomize(keras.Sequential([
        keras.Input((6,)), L.Dense(12), StepReLU(levels, threshold), L.Dropout(0.3),
        head or L.Dense(3)]))


def conv_ann(levels=4, batch_norm=False, shift=0.5):
    layers = [keras.Input((8, 8, 1)), L.Conv2D(4, 3, padding="same", name="conv")]
    layers += [L.BatchNormalization(name="bn")] if batch_norm else []
    layers += [StepReLU(levels, 1.0, shift=shift, name="step"), L.AveragePooling2D(2),
               L.Flatten(), L.Dense(5)]
    return randomize(keras.Sequential(layers))


def inputs(shape, n=64, seed=1):
    return np.random.default_rng(seed).uniform(0, 1, size=(n, *shape)).astype("float32")


def sub_model(model, layer_name):
    return keras.Model(model.inputs[0], model.get_layer(layer_name).output)


# -- exactness ---------------------------------------------------------------

@pytest.mark.parametrize("levels", [1, 3, 8])
@pytest.mark.parametrize("build", [dense_ann, conv_ann])
def test_one_spiking_layer_preserves_outputs_at_t_equal_levels(build, levels):
    ann = build(levels=levels)
    x = inputs(ann.inputs[0].shape[1:])
    snn = ann_to_snn(ann, timesteps=levels)
    np.testing.assert_allclose(to_numpy(snn(x)), to_numpy(ann(x)), rtol=1e-5, atol=1e-5)


def test_layer_by_layer_first_neuron_rate_equals_step_relu_with_folded_batch_norm():
    ann = conv_ann(levels=4, batch_norm=True, shift=0.25)
    snn = ann_to_snn(ann, timesteps=4)
    x = inputs((8, 8, 1))
    # the folded convolution reproduces Conv -> BatchNorm
    folded = to_numpy(sub_model(snn, "conv")(x))
    np.testing.assert_allclose(folded, to_numpy(sub_model(ann, "bn")(x)), rtol=1e-5, atol=1e-5)
    # and the IF rate over T equals StepReLU on those pre-activations, exactly
    neuron = snn.get_layer("step_if")
    assert (neuron.threshold, neuron.initial_membrane) == (1.0, 0.25)
    rate = to_numpy(sub_model(snn, "step_if")(x)).mean(axis=1)
    np.testing.assert_array_equal(rate * 4, to_numpy(ann.get_layer("step")(folded)) * 4)


def test_converted_layers_follow_the_library_conventions():
    snn = ann_to_snn(conv_ann(levels=4, batch_norm=True), timesteps=4)
    kinds = [type(layer).__name__ for layer in snn.layers]
    assert kinds == ["Conv2D", "RepeatEncoder", "IF", "TimeFolded", "TimeFolded",
                     "TimeFolded", "MeanOverTime"]
    assert [type(layer.layer).__name__ for layer in snn.layers if isinstance(layer, TimeFolded)] \
        == ["AveragePooling2D", "Flatten", "Dense"]
    assert snn.get_layer("conv").use_bias  # the folded BatchNorm brings a bias


def test_trained_two_layer_network_keeps_its_predictions():
    """A real (briefly trained) two-layer StepReLU network on 8x8 digits: at T = levels
    the SNN makes the ANN's predictions, up to the second layer's small conversion error."""
    (x_train, y_train), (x_test, y_test) = load_digits()
    ann = keras.Sequential([
        keras.Input((8, 8, 1)), L.Flatten(), L.Dense(48, use_bias=False),
        L.BatchNormalization(), StepReLU(4, 2.0), L.Dense(32), StepReLU(4, 2.0), L.Dense(10)])
    ann.compile(keras.optimizers.Adam(0.01),
                keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    ann.fit(x_train, y_train, batch_size=64, epochs=8, verbose=0)
    predict = lambda model: model.predict(x_test, verbose=0, batch_size=360).argmax(-1)
    ann_predictions, snn_predictions = predict(ann), predict(ann_to_snn(ann, 4))
    assert np.mean(ann_predictions == y_test) > 0.9
    assert np.mean(snn_predictions == ann_predictions) >= 0.95
    assert np.mean(snn_predictions == y_test) >= np.mean(ann_predictions == y_test) - 0.03


def test_relu_thresholds_come_from_calibration_percentiles():
    ann = randomize(keras.Sequential([keras.Input((6,)), L.Dense(12, activation="relu",
                                                                  name="hidden"), L.Dense(3)]))
    x = inputs((6,), n=256)
    found = calibrate_thresholds(ann, x, percentile=99.0)
    hidden = to_numpy(ann.get_layer("hidden")(x))
    assert found == {"hidden": pytest.approx(np.percentile(hidden[hidden > 0], 99.0))}
    snn = ann_to_snn(ann, timesteps=32, calibration_data=x, percentile=99.0)
    theta = snn.get_layer("hidden_if").threshold
    assert theta == pytest.approx(found["hidden"])
    # IF with v0 = theta / 2: the rate rounds clip(relu(z), 0, theta) to steps of theta / T
    rate = to_numpy(sub_model(snn, "hidden_if")(x)).mean(axis=1) * theta
    z = to_numpy(sub_model(snn, "hidden")(x))
    assert np.abs(rate - np.clip(z, 0, theta)).max() <= theta / 64 + 1e-6


def test_relu_ceilings_and_given_thresholds_need_no_calibration():
    ann = randomize(keras.Sequential([
        keras.Input((6,)), L.Dense(8, activation="relu6", name="a"), L.Dense(8, name="b"),
        L.ReLU(max_value=2.0, name="c"), L.Dense(8, name="d"), L.ReLU(name="e"), L.Dense(2)]))
    snn = ann_to_snn(ann, timesteps=4, thresholds={"e": 3.0}, shift=0.0)
    neurons = [layer for layer in snn.layers if isinstance(layer, IF)]
    assert [(n.name, n.threshold, n.initial_membrane) for n in neurons] == [
        ("a_if", 6.0, None), ("c_if", 2.0, None), ("e_if", 3.0, None)]


def test_next_kernel_carries_the_threshold():
    ann = dense_ann(threshold=1.5)
    snn = ann_to_snn(ann, timesteps=4)
    head = snn.layers[-2].layer
    np.testing.assert_allclose(to_numpy(head.kernel), 1.5 * to_numpy(ann.layers[-1].kernel),
                               rtol=1e-6)
    np.testing.assert_array_equal(to_numpy(head.bias), to_numpy(ann.layers[-1].bias))


def test_trailing_activation_is_rescaled_and_softmax_kept_last():
    ann = randomize(keras.Sequential([keras.Input((6,)), L.Dense(5), StepReLU(4, 2.0)]))
    snn = ann_to_snn(ann, timesteps=4)
    assert isinstance(snn.layers[-2].layer, L.Rescaling) and snn.layers[-2].layer.scale == 2.0
    x = inputs((6,))
    np.testing.assert_allclose(to_numpy(snn(x)), to_numpy(ann(x)), rtol=1e-6, atol=1e-6)

    ann = dense_ann(head=L.Dense(3, activation="softmax", name="head"))
    snn = ann_to_snn(ann, timesteps=4)
    assert isinstance(snn.layers[-2], MeanOverTime) and snn.layers[-1].name == "head_softmax"
    np.testing.assert_allclose(to_numpy(snn(x)), to_numpy(ann(x)), rtol=1e-5, atol=1e-6)


def test_leak_gives_lif_neurons():
    ann = dense_ann()
    snn = ann_to_snn(ann, timesteps=8, leak=0.1)
    neuron = snn.layers[2]
    assert isinstance(neuron, LIF) and neuron.beta == pytest.approx(0.9)
    assert neuron.initial_membrane == 0.75 and neuron.name.endswith("_lif")
    x = inputs((6,))
    assert not np.allclose(to_numpy(snn(x)), to_numpy(ann_to_snn(ann, timesteps=8)(x)))


def test_functional_model_with_a_nested_block():
    block = keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(4, 3, name="c1"),
                              StepReLU(2, name="s1")], name="block")
    x_in = keras.Input((8, 8, 1))
    y = L.Dense(3, name="head")(L.Flatten(name="flat")(block(x_in)))
    ann = randomize(keras.Model(x_in, y))
    assert [layer.name for layer in layer_chain(ann)] == ["c1", "s1", "flat", "head"]
    x = inputs((8, 8, 1))
    np.testing.assert_allclose(to_numpy(ann_to_snn(ann, 2)(x)), to_numpy(ann(x)), atol=1e-5)


def test_nonlinearity_of_reads_activations():
    assert nonlinearity_of(L.Flatten()).kind == "linear"
    assert nonlinearity_of(L.Activation("relu")) == ("relu", None, None)
    assert nonlinearity_of(L.Softmax()).kind == "softmax"
    step = StepReLU(4, 0.5, shift=0.25)
    step.build(())
    assert nonlinearity_of(L.Dense(2, activation=step)) == ("step", 0.5, 0.25)


# -- the ANN stays untouched, the SNN is a normal model ------------------------

def snapshot(model):
    return ([to_numpy(w).copy() for w in model.weights],
            json.dumps(model.get_config(), default=str))


def test_conversion_never_mutates_the_ann():
    ann = randomize(keras.Sequential([
        keras.Input((8, 8, 1)), L.Conv2D(4, 3, use_bias=False), L.BatchNormalization(),
        StepReLU(4, 1.0), L.AveragePooling2D(2), L.Flatten(), L.Dense(6, activation="relu"),
        L.Dropout(0.5), L.Dense(3, activation="softmax")]))
    x = inputs((8, 8, 1))
    weights, config = snapshot(ann)
    before = to_numpy(ann(x))
    snn = ann_to_snn(ann, 4, calibration_data=x, leak=0.05)
    assert not {id(w) for w in snn.weights} & {id(w) for w in ann.weights}
    assert not {id(layer) for layer in snn.layers} & {id(layer) for layer in layer_chain(ann)}
    snn.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    snn.fit(x, np.zeros(len(x)), epochs=1, verbose=0)  # training the SNN leaves the ANN alone
    after_weights, after_config = snapshot(ann)
    assert after_config == config
    for a, b in zip(after_weights, weights):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(to_numpy(ann(x)), before)


def test_converted_snn_trains_and_round_trips(tmp_path):
    ann = conv_ann(levels=4, batch_norm=True)
    ann.trainable = False  # e.g. frozen as a teacher: the SNN is trainable all the same
    snn = ann_to_snn(ann, 4, leak=0.05)
    assert len(snn.trainable_weights) == 4 and not snn.non_trainable_weights
    x = inputs((8, 8, 1))
    snn.compile(keras.optimizers.Adam(1e-3),
                keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = snn.fit(x, np.arange(len(x)) % 5, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    path = tmp_path / "snn.keras"
    snn.save(path)
    loaded = keras.saving.load_model(path)
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in snn.layers]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), snn.predict(x, verbose=0))


def test_fold_batch_norm_matches_the_layers():
    rng = np.random.default_rng(0)
    for layer, shape in [(L.Dense(4), (5, 3)), (L.Conv2D(4, 3, use_bias=False), (5, 6, 6, 2))]:
        for center, scale in [(True, True), (False, False)]:
            bn = L.BatchNormalization(center=center, scale=scale)
            model = randomize(keras.Sequential([keras.Input(shape[1:]), layer, bn]))
            bias = to_numpy(layer.bias) if layer.use_bias else None
            kernel, bias = fold_batch_norm(to_numpy(layer.kernel), bias, bn)
            folded = type(layer).from_config({**layer.get_config(), "use_bias": True})
            folded.build(shape)
            folded.set_weights([kernel, bias])
            x = rng.normal(size=shape).astype("float32")
            np.testing.assert_allclose(to_numpy(folded(x)), to_numpy(model(x)),
                                       rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="normalizes 4 channels but the layer before it has 3"):
        fold_batch_norm(np.ones((2, 3), "float32"), None, bn)


# -- the examples' fast modes ----------------------------------------------------

@pytest.mark.parametrize("name, keys", [
    ("convert_mnist", {"relu", "step_relu"}),
    ("convert_levels", {"runs", "summary"}),
    ("convert_distill", {"step_relu"}),
])
def test_example_fast_mode_writes_json_and_plot(monkeypatch, tmp_path, name, keys):
    monkeypatch.syspath_prepend(os.path.join(ROOT, "examples"))
    results = importlib.import_module(name).main(["--fast", "--out", str(tmp_path)])
    with open(tmp_path / f"{name}_fast.json") as file:
        saved = json.load(file)
    assert saved == json.loads(json.dumps(results))
    assert keys <= set(saved.get("models", saved))
    assert (tmp_path / f"{name}_fast.png").stat().st_size > 10_000


# -- bad input -----------------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, match", [
    ({"timesteps": 0}, ValueError, "ann_to_snn: `timesteps` must be >= 1, got 0"),
    ({"timesteps": -2}, ValueError, "`timesteps` must be >= 1"),
    ({"timesteps": 2.0}, TypeError, "`timesteps` must be a positive int"),
    ({"timesteps": 4, "leak": 0.0}, ValueError, "`leak` must be > 0"),
    ({"timesteps": 4, "leak": 1.5}, ValueError, "`leak` must be <= 1"),
    ({"timesteps": 4, "shift": 1.5}, ValueError, "`shift` must be <= 1"),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        ann_to_snn(dense_ann(), **kwargs)


def branchy_models():
    x_in = keras.Input((6,))
    a = L.Dense(6, name="a")(x_in)
    residual = keras.Model(x_in, L.Add(name="add")([a, L.Dense(6, activation="relu")(a)]))
    two_out = keras.Model(x_in, [a, L.ReLU()(a)])
    shared = L.Dense(6, activation="relu", name="shared")
    reused = keras.Model(x_in, shared(shared(x_in)))
    op = keras.Model(x_in, L.Dense(2)(L.ReLU()(a) * 2.0))

    class Subclassed(keras.Model):
        def call(self, x):
            return x

    return [(residual, r"layer 'add' \(Add\) .* takes 2 inputs"),
            (two_out, "one input and one output; got 1 inputs and 2 outputs"),
            (reused, "layer 'shared' is applied 2 times"),
            (op, r"applies the operation .* outside any layer"),
            (Subclassed(), "Subclassed models have no graph")]


@pytest.mark.parametrize("case", range(5))
def test_branches_and_unmappable_models(case):
    model, match = branchy_models()[case]
    with pytest.raises(ValueError, match=match):
        ann_to_snn(model, 4, calibration_data=inputs((6,)))


@pytest.mark.parametrize("layers, match", [
    ([L.Dense(4), L.ReLU(), L.MaxPooling1D(2, name="pool")],
     r"'pool' \(MaxPooling1D\) cannot be converted: the max of spike trains"),
    ([L.Dense(4), L.LayerNormalization(name="norm"), L.ReLU()],
     r"'norm' \(LayerNormalization\) is not supported"),
    ([L.Dense(4, activation="tanh", name="d")], r"'d' \(Dense\) uses the activation 'tanh'"),
    ([L.Dense(4), L.LeakyReLU(name="leaky")], r"'leaky' \(LeakyReLU\) is not supported"),
    ([L.Dense(4), L.ReLU(negative_slope=0.1, name="r")], "'r' is a ReLU with negative_slope"),
    ([L.Dense(4), StepReLU(2, name="s"), L.BatchNormalization(name="bn")],
     "BatchNormalization 'bn' follows the step activation of 's'"),
    ([L.BatchNormalization(name="bn"), L.Dense(4), L.ReLU()],
     "BatchNormalization 'bn' follows the input"),
    ([L.Dense(4), L.ReLU(name="r")], r"ReLU activations of \['r'\] need thresholds"),
    ([L.Dense(4), L.Softmax(name="sm"), StepReLU(2)], "softmax of layer 'sm' is not the last"),
    ([L.Dense(4), L.Dense(2)], "no ReLU or StepReLU activation"),
])
def test_unsupported_layers_are_named(layers, match):
    model = keras.Sequential([keras.Input((6, 3)), *layers])
    with pytest.raises(ValueError, match=match):
        ann_to_snn(model, 4)


def test_bad_thresholds_and_calibration_data():
    ann = keras.Sequential([keras.Input((6,)), L.Dense(4), L.ReLU(name="r"), L.Dense(2)])
    with pytest.raises(ValueError, match=r"`thresholds\['r'\]` must be > 0, got -1.0"):
        ann_to_snn(ann, 4, thresholds={"r": -1.0})
    with pytest.raises(ValueError, match=r"`thresholds` names \['typo'\], which are not "
                                         r"plain ReLU activations .* plain ReLUs are \['r'\]"):
        ann_to_snn(ann, 4, thresholds={"r": 1.0, "typo": 1.0})
    with pytest.raises(ValueError, match="ann_to_snn: `percentile` must be > 0, got 0"):
        ann_to_snn(ann, 4, thresholds={"r": 1.0}, percentile=0)
    with pytest.raises(ValueError, match=r"`data` must be a non-empty batch .* \(N, 6\); got "
                                         r"shape \(3, 5\)"):
        calibrate_thresholds(ann, np.zeros((3, 5), "float32"))
    with pytest.raises(ValueError, match="`percentile` must be <= 100, got 101.0"):
        calibrate_thresholds(ann, np.zeros((3, 6), "float32"), percentile=101)
